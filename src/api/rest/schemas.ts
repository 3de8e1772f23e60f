/**
 * zod schemas of the REST API: the single source of request validation, response
 * serialisation and the OpenAPI document. Shapes mirror src/services/contract.ts.
 */
import { z } from 'zod'

/** Cluster names: a DNS label (RFC 1123), as Kubernetes names namespaces. */
export const ClusterName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS label: lower-case letters, digits and "-", starting and ending alphanumeric, at most 63 characters')
  .describe('Cluster name (RFC 1123 DNS label)')

export const VersionRefParam = z
  .string()
  .regex(/^(latest|[1-9][0-9]{0,8})$/, 'must be a positive version number or "latest"')
  .describe('A version number (1, 2, …) or `latest`')

/**
 * A version number in a body: the same range as VersionRefParam (at most 9 digits), which also
 * keeps it inside PostgreSQL's integer (a larger one failed there as a 500, "integer out of range").
 */
export const VersionNumber = z.number().int().positive().max(999_999_999)

export const toVersionRef = (v: string): number | 'latest' => (v === 'latest' ? 'latest' : Number(v))

export const ClusterParams = z.object({ cluster: ClusterName })
export const VersionParams = z.object({ cluster: ClusterName, version: VersionRefParam })

export const PageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50).describe('Page size, 1..500'),
  cursor: z.string().min(1).max(512).optional().describe('Opaque cursor from `next` of the previous page'),
})

const Family = z.enum(['IPv4', 'IPv6'])
const TableCounts = z.object({ chains: z.number().int(), rules: z.number().int() })

export const Warning = z
  .object({
    code: z.string().describe('Stable machine-readable code, e.g. invalid-ip, unknown-kind'),
    message: z.string(),
    pointer: z.string().optional().describe('RFC 6901 pointer into the stored envelope'),
  })
  .meta({ id: 'Warning' })

export const Links = z.record(z.string(), z.string()).describe('Related resources (relative URLs)')

export const Counts = z
  .object({
    services: z.number().int(),
    servicePorts: z.number().int(),
    endpoints: z.number().int(),
    ignoredObjects: z.number().int().describe('Objects of kinds the planner does not read'),
    families: z.object({
      IPv4: z.object({ filter: TableCounts, nat: TableCounts }).optional(),
      IPv6: z.object({ filter: TableCounts, nat: TableCounts }).optional(),
    }),
    scriptBytes: z.number().int().describe('Bytes of the kube-proxy-flavour restore script(s)'),
    nodes: z
      .object({
        count: z.number().int(),
        variants: z.number().int().describe('Distinct plans among the nodes'),
        defaultNode: z.string().nullable().describe('The node the one-node routes answer for; null when the snapshot has many and names none'),
        defaulted: z.array(z.string()).describe("Settings no source gave, planned with kube-proxy's defaults"),
      })
      .optional()
      .describe("The nodes the snapshot plans; the other counts are the version's node's (absent on versions stored before every node was planned)"),
  })
  .meta({ id: 'Counts' })

/** Node names, as the API server validates them (a DNS subdomain). */
export const NodeName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'must be a DNS subdomain (RFC 1123), as Node names are')
  .describe('A Node name')

export const NodeParams = VersionParams.extend({ node: NodeName })

export const NodeSummary = z
  .object({
    name: z.string(),
    variant: z.number().int().describe('Nodes with byte-identical plans share a variant'),
    planSha256: z.string().describe("sha256 of the node's restore input (kube-proxy flavour, every table and family)"),
    counts: Counts.pick({ families: true, scriptBytes: true }),
    links: Links,
  })
  .meta({ id: 'NodeSummary' })

export const NodeList = z
  .object({
    cluster: z.string(),
    version: z.number().int(),
    defaultNode: z.string().nullable(),
    defaulted: z.array(z.string()),
    variants: z.number().int(),
    items: z.array(NodeSummary),
  })
  .meta({ id: 'NodeList' })

export const Version = z
  .object({
    cluster: z.string(),
    version: z.number().int(),
    kind: z.enum(['snapshot', 'rollback', 'import']),
    createdAt: z.string().describe('ISO 8601'),
    actor: z.string().describe('Token name, or anonymous'),
    reason: z.string().nullable(),
    sourceVersion: z.number().int().nullable(),
    snapshotSha256: z.string(),
    planSha256: z.string(),
    counts: Counts,
    warnings: z.array(Warning),
    links: Links,
  })
  .meta({ id: 'Version' })

export const IngestResponse = z
  .object({
    created: z.boolean().describe('false: identical to the latest version, nothing stored'),
    version: Version,
    links: Links,
  })
  .meta({ id: 'IngestResult' })

export const VersionPage = z.object({ items: z.array(Version), next: z.string().nullable(), links: Links }).meta({ id: 'VersionPage' })

export const Cluster = z
  .object({
    name: z.string(),
    createdAt: z.string(),
    latestVersion: z.number().int().nullable(),
    versions: z.number().int(),
    links: Links,
  })
  .meta({ id: 'Cluster' })

export const ClusterPage = z.object({ items: z.array(Cluster), next: z.string().nullable(), links: Links }).meta({ id: 'ClusterPage' })

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string(),
    requestId: z.string().optional(),
    errors: z
      .array(
        z.object({
          pointer: z.string().describe('RFC 6901 JSON pointer'),
          detail: z.string(),
          location: z.enum(['body', 'query', 'path', 'header']).optional(),
        }),
      )
      .optional()
      .describe('At least one entry on every 4xx'),
    limit: z
      .object({ name: z.string(), value: z.number(), env: z.string().optional().describe('The environment variable that sets it') })
      .optional()
      .describe('type limit-exceeded: the limit that refused the request'),
    accepted: z.array(z.string()).optional().describe('415: the media types the route accepts'),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details (application/problem+json)' })

const bool = z.enum(['true', 'false']).transform((v) => v === 'true')
const csv = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== ''),
)

/**
 * kube-proxy settings as query parameters, for bodies that are a bare `List` (or single
 * object) rather than an envelope. For an envelope they override its `proxy` fields.
 */
export const ProxyQuery = z.strictObject({
  nodeName: z.string().min(1).max(253).optional().describe('Node being planned (which endpoints are local)'),
  nodeIPs: csv.optional().describe('Comma-separated node IPs; the first of each family is primary'),
  ipFamilies: csv
    .pipe(
      z
        .array(z.enum(['IPv4', 'IPv6']))
        .min(1)
        .max(2),
    )
    .optional()
    .describe('IPv4, IPv6 or both, comma-separated'),
  zone: z.string().max(253).optional().describe("The node's topology.kubernetes.io/zone, for topology hints"),
  clusterCIDR: csv.optional().describe('Cluster CIDR(s) for the ClusterCIDR local-traffic detector, comma-separated'),
  localDetector: z.enum(['ClusterCIDR', 'NodeCIDR', 'BridgeInterface', 'InterfaceNamePrefix', 'None']).optional().describe('The older name of detectLocalMode'),
  detectLocalMode: z
    .enum(['ClusterCIDR', 'NodeCIDR', 'BridgeInterface', 'InterfaceNamePrefix', 'None'])
    .optional()
    .describe("kube-proxy's local-traffic detector"),
  bridgeInterface: z.string().max(15).optional().describe('detectLocal.bridgeInterface, for detectLocalMode BridgeInterface (-i BRIDGE)'),
  interfaceNamePrefix: z.string().max(15).optional().describe('detectLocal.interfaceNamePrefix, for detectLocalMode InterfaceNamePrefix (-i PREFIX+)'),
  masqueradeBit: z.coerce.number().int().min(0).max(31).optional(),
  masqueradeMark: z
    .string()
    .regex(/^0x[0-9a-fA-F]{1,8}$/)
    .optional(),
  masqueradeAll: bool.optional(),
  nodePortAddresses: csv.optional().describe('CIDRs or `primary`, comma-separated; empty = all addresses'),
  localhostNodePorts: bool.optional(),
  nfacct: z
    .string()
    .optional()
    .describe(
      'true/false for both nfacct counters, or the counters the node has, comma-separated (ct_state_invalid_dropped_pkts, localhost_nps_accepted_pkts; empty: none)',
    ),
  masqueradeRandomFully: bool.optional(),
  conntrackTCPBeLiberal: bool.optional(),
  kubeProxyVersion: z
    .string()
    .max(40)
    .optional()
    .describe('The kube-proxy release: 1.28 through 1.37 (default 1.37); its feature-gate defaults (docs/releases.md)'),
  featureGates: z
    .string()
    .max(1000)
    .optional()
    .describe('Rule-changing feature gates as kube-proxy --feature-gates takes them: LoadBalancerIPMode=false,PreferSameTrafficDistribution=true'),
})

export const KubeObject = z.looseObject({ apiVersion: z.string().optional(), kind: z.string().optional() })

/**
 * The request body of an ingest, as documented. Deep validation (every Service, EndpointSlice,
 * Node field, with pointers to the item) happens in the ingest use-case; here only the outer
 * shape is documented and checked.
 */
export const SnapshotBody = z
  .union([
    z.looseObject({
      proxy: z.record(z.string(), z.unknown()).optional().describe('kube-proxy settings of the node being planned'),
      resources: z.looseObject({ items: z.array(z.unknown()) }).describe('A kubectl List of Service, EndpointSlice, Endpoints and Node objects'),
    }),
    z.looseObject({ kind: z.string(), items: z.array(z.unknown()) }).describe('A bare kubectl List (proxy settings from the query)'),
    KubeObject.describe('A single object'),
    z.array(z.unknown()).describe('Several YAML documents'),
  ])
  .meta({ id: 'SnapshotDocument', description: 'An envelope `{proxy, resources}`, a bare kubectl List, one object, or several YAML documents' })

export const RestoreQuery = z.strictObject({
  table: z.enum(['nat', 'filter', 'all']).default('all'),
  flavour: z
    .enum(['kube-proxy', 'standalone'])
    .default('kube-proxy')
    .describe('kube-proxy: exactly what kube-proxy writes; standalone: loadable without kube-proxy'),
  family: Family.optional().describe('Default: the first family of the plan (IPv4 on dual-stack)'),
})

export const Health = z.object({ status: z.string(), detail: z.string().optional() })
