/**
 * The snapshot envelope: `{ proxy, resources }`, and `toEnvelope`, which accepts the shapes
 * operators actually have at hand (an envelope, a bare `kubectl get -o json` List, one object,
 * or the array of documents of a multi-document YAML file) and returns a validated envelope with
 * defaults filled in, or issues with RFC 6901 pointers into the ORIGINAL document.
 */
import { z } from 'zod'
import { KIND_SCHEMAS, type KnownKind, type NodeObject } from './schemas.js'
import { parseCIDRSloppy, parseIPSloppy } from './ip.js'

const ipString = z.string().refine((s) => parseIPSloppy(s) !== null, 'must be an IP address')
const cidrOrPrimary = z
  .string()
  .refine((s) => s === 'primary' || parseCIDRSloppy(s.trim()) !== null, 'must be a CIDR or "primary"')

/**
 * kube-proxy settings of the node being planned. Defaults are those of a current kube-proxy
 * (v1.33+) on a modern node: mark bit 14, localhost NodePorts on, nfacct counters and
 * `--random-fully` available, cluster-CIDR local detection.
 */
export const ProxyConfigSchema = z.strictObject({
  /** Which endpoints are local (EndpointSlice `nodeName`). Default: the only Node object's name, else ''. */
  nodeName: z.string().default(''),
  /** Node addresses; the first of each family is that family's primary IP. Default: the Node's InternalIPs. */
  nodeIPs: z.array(ipString).default([]),
  /** Families the node runs (one FamilyPlan each). Default: families of clusterCIDR, else of nodeIPs[0], else IPv4. */
  ipFamilies: z.array(z.enum(['IPv4', 'IPv6'])).min(1).max(2).optional(),
  /** `--cluster-cidr`: one CIDR per family, as a list or a comma-separated string. */
  clusterCIDR: z.union([z.string(), z.array(z.string())]).optional(),
  localDetector: z.enum(['ClusterCIDR', 'None']).default('ClusterCIDR'),
  masqueradeBit: z.int().min(0).max(31).default(14),
  /** Verbatim mark string overriding the one derived from masqueradeBit (upstream tests use `0x4000`). */
  masqueradeMark: z.string().regex(/^0[xX][0-9a-fA-F]+$/, 'must be a hex mark like 0x4000').optional(),
  masqueradeAll: z.boolean().default(false),
  nodePortAddresses: z.array(cidrOrPrimary).default([]),
  localhostNodePorts: z.boolean().default(true),
  nfacct: z.boolean().default(true),
  masqueradeRandomFully: z.boolean().default(true),
  conntrackTCPBeLiberal: z.boolean().default(false),
  /** Node's `topology.kubernetes.io/zone` for topology hints. Default: from the Node object. */
  zone: z.string().optional(),
})
export type ProxyConfig = z.output<typeof ProxyConfigSchema>

export const KubeObjectSchema = z.looseObject({ kind: z.string() })

/** Shallow: items are checked per kind by `toEnvelope`; unknown kinds are kept and counted. */
export const EnvelopeSchema = z.object({
  proxy: ProxyConfigSchema,
  resources: z.object({
    apiVersion: z.string().default('v1'),
    kind: z.literal('List').default('List'),
    items: z.array(KubeObjectSchema),
  }),
})
export type Envelope = z.output<typeof EnvelopeSchema>

export interface Issue {
  pointer: string
  detail: string
}
export type ToEnvelopeResult = { ok: true; envelope: Envelope } | { ok: false; issues: Issue[] }

const MAX_ISSUES = 100

export function escapePointer(seg: string | number): string {
  return String(seg).replace(/~/g, '~0').replace(/\//g, '~1')
}

function pointerOf(base: string, path: readonly PropertyKey[]): string {
  return base + path.map((p) => '/' + escapePointer(String(p))).join('')
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

interface Located {
  items: unknown[]
  itemsPointer: string
  proxy: unknown
}

/** Work out where the objects are in the original document. */
function locate(doc: unknown): Located | Issue {
  if (Array.isArray(doc)) return { items: flattenDocs(doc), itemsPointer: '', proxy: undefined }
  if (!isObject(doc)) return { pointer: '', detail: 'expected a snapshot envelope, a List, or a Kubernetes object' }
  if ('resources' in doc) {
    const r = doc.resources
    if (Array.isArray(r)) return { items: r, itemsPointer: '/resources', proxy: doc.proxy }
    if (isObject(r) && Array.isArray(r.items)) return { items: r.items, itemsPointer: '/resources/items', proxy: doc.proxy }
    return { pointer: '/resources', detail: 'resources must be a List with an items array' }
  }
  if (Array.isArray(doc.items)) return { items: doc.items, itemsPointer: '/items', proxy: undefined }
  if (typeof doc.kind === 'string') return { items: [doc], itemsPointer: '', proxy: undefined }
  return { pointer: '', detail: 'expected a snapshot envelope, a List, or a Kubernetes object' }
}

/** Multi-document YAML: documents may themselves be Lists; null documents (`---` at end) are skipped. */
function flattenDocs(docs: unknown[]): unknown[] {
  return docs
}

/** Coerce query-string values ("true", "14", "a,b") to the types of the proxy fields. */
function coerceOverrides(o: Record<string, unknown>): Record<string, unknown> {
  const shape = ProxyConfigSchema.shape as Record<string, unknown>
  const out: Record<string, unknown> = {}
  const bools = new Set(['masqueradeAll', 'localhostNodePorts', 'nfacct', 'masqueradeRandomFully', 'conntrackTCPBeLiberal'])
  const lists = new Set(['nodeIPs', 'nodePortAddresses', 'ipFamilies'])
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue
    if (!(k in shape)) {
      out[k] = v
      continue
    }
    if (typeof v === 'string' && bools.has(k) && (v === 'true' || v === 'false')) out[k] = v === 'true'
    else if (typeof v === 'string' && k === 'masqueradeBit' && /^\d+$/.test(v)) out[k] = Number(v)
    else if (typeof v === 'string' && lists.has(k)) out[k] = v === '' ? [] : v.split(',').map((s) => s.trim())
    else out[k] = v
  }
  return out
}

/** Options of toEnvelope. */
export interface EnvelopeOptions {
  /**
   * Items (by object identity) the caller vouches for: byte-for-byte the same as items that
   * passed validation before (natplan's ingest keeps fingerprints of the previous version's
   * items). They are taken as they are, managedFields dropped, without the schema check: a valid
   * Kubernetes object comes out of the loose schemas with the same content anyway.
   */
  trusted?: ReadonlySet<unknown>
}

function validateItems(items: unknown[], base: string, issues: Issue[], trusted?: ReadonlySet<unknown>): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = []
  for (let i = 0; i < items.length; i++) {
    const item = items[i]
    const at = `${base}/${i}`
    if (item === null || item === undefined) continue
    if (!isObject(item) || typeof item.kind !== 'string') {
      issues.push({ pointer: `${at}/kind`, detail: 'each item must be an object with a string kind' })
      continue
    }
    if (item.kind.endsWith('List') && Array.isArray(item.items)) {
      out.push(...validateItems(item.items, `${at}/items`, issues, trusted))
      continue
    }
    const schema = KIND_SCHEMAS[item.kind as KnownKind]
    if (trusted?.has(item)) {
      out.push(stripManagedFields(item))
      continue
    }
    if (!schema) {
      out.push(item)
      continue
    }
    const r = schema.safeParse(item)
    if (!r.success) {
      for (const iss of r.error.issues) issues.push({ pointer: pointerOf(at, iss.path), detail: `${item.kind}: ${iss.message}` })
      if (issues.length >= MAX_ISSUES) break
      continue
    }
    out.push(stripManagedFields(r.data))
  }
  return out
}

/** managedFields are write-history noise (often half the bytes); nothing reads them. */
function stripManagedFields(obj: Record<string, unknown>): Record<string, unknown> {
  const meta = obj.metadata
  if (isObject(meta) && 'managedFields' in meta) {
    const { managedFields: _drop, ...rest } = meta
    return { ...obj, metadata: rest }
  }
  return obj
}

/** Fill nodeName / nodeIPs / zone from the Node objects when the caller did not say. */
function defaultsFromNodes(proxy: Record<string, unknown>, items: Record<string, unknown>[]): Record<string, unknown> {
  const nodes = items.filter((o) => o.kind === 'Node') as unknown as NodeObject[]
  if (nodes.length === 0) return proxy
  const out = { ...proxy }
  if (out.nodeName === undefined && nodes.length === 1) out.nodeName = nodes[0]!.metadata.name
  const node = nodes.find((n) => n.metadata.name === out.nodeName)
  if (!node) return out
  if (out.nodeIPs === undefined) {
    const addrs = node.status?.addresses ?? []
    const internal = addrs.filter((a) => a.type === 'InternalIP').map((a) => a.address)
    const external = addrs.filter((a) => a.type === 'ExternalIP').map((a) => a.address)
    out.nodeIPs = [...internal, ...external].filter((a) => parseIPSloppy(a) !== null)
  }
  const zone = node.metadata.labels?.['topology.kubernetes.io/zone']
  if (out.zone === undefined && zone !== undefined) out.zone = zone
  return out
}

export function toEnvelope(document: unknown, proxyOverrides?: Record<string, unknown>, opts: EnvelopeOptions = {}): ToEnvelopeResult {
  const loc = locate(document)
  if ('detail' in loc) return { ok: false, issues: [loc] }
  const issues: Issue[] = []
  if (loc.proxy !== undefined && !isObject(loc.proxy)) issues.push({ pointer: '/proxy', detail: 'proxy must be an object' })
  const items = validateItems(loc.items, loc.itemsPointer, issues, opts.trusted)
  const merged = defaultsFromNodes(
    { ...(isObject(loc.proxy) ? loc.proxy : {}), ...coerceOverrides(proxyOverrides ?? {}) },
    items,
  )
  const proxy = ProxyConfigSchema.safeParse(merged)
  if (!proxy.success) for (const iss of proxy.error.issues) issues.push({ pointer: pointerOf('/proxy', iss.path), detail: `proxy: ${iss.message}` })
  if (issues.length > 0 || !proxy.success) return { ok: false, issues: issues.slice(0, MAX_ISSUES) }
  return {
    ok: true,
    envelope: { proxy: proxy.data, resources: { apiVersion: 'v1', kind: 'List', items: items as Envelope['resources']['items'] } },
  }
}
