export const typeDefs = /* GraphQL */ `
  type Version {
    cluster: String!
    version: Int!
    "snapshot, rollback or import"
    kind: String!
    createdAt: String!
    actor: String!
    reason: String
    sourceVersion: Int
    "For a rollback: the version whose content this one reuses (batched by a loader)."
    source: Version
    snapshotSha256: String!
    planSha256: String!
    counts: Counts!
    warnings: [Warning!]!
    plan: PlanSummary!
    """
    The iptables-restore input. table: nat, filter or all (default); flavour: kube-proxy (default)
    or standalone; family: IPv4 or IPv6 (default: the plan's first family).
    """
    restoreScript(table: String = "all", flavour: String = "kube-proxy", family: String): String!
  }

  type VersionPage {
    items: [Version!]!
    next: String
  }

  type Counts {
    services: Int!
    servicePorts: Int!
    endpoints: Int!
    ignoredObjects: Int!
    scriptBytes: Int!
  }

  type Warning {
    code: String!
    message: String!
    pointer: String
  }

  type PlanSummary {
    scriptBytes: Int!
    families: [FamilyPlanSummary!]!
  }

  type FamilyPlanSummary {
    family: String!
    tables: [TableSummary!]!
  }

  type TableSummary {
    table: String!
    chains: Int!
    rules: Int!
  }
`
