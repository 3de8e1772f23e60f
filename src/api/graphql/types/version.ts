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
    "Every node of the version, in name order (nodes with byte-identical plans share a variant)."
    nodes: [Node!]!
    "One node (null when the version has no such node)."
    node(name: String!): Node
  }

  type Node {
    cluster: String!
    version: Int!
    name: String!
    variant: Int!
    "sha256 over the node's segments' content hashes (and its pod CIDR where the NodeCIDR detector writes it)"
    planSha256: String!
    plan: PlanSummary!
    "The node's iptables-restore input; arguments as Version.restoreScript."
    restoreScript(table: String = "all", flavour: String = "kube-proxy", family: String): String!
  }

  type NodeCounts {
    count: Int!
    "Distinct plans among the nodes"
    variants: Int!
    "The node the one-node views answer for; null when the snapshot has many and names none"
    defaultNode: String
    "Settings no source gave, planned with kube-proxy's defaults"
    defaulted: [String!]!
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
    "The nodes the snapshot plans (null on versions stored before every node was planned)"
    nodes: NodeCounts
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
