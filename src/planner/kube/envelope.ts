/**
 * The snapshot envelope: `{ proxy, resources }`, and `toEnvelope`, which accepts the shapes
 * operators actually have at hand (an envelope, a bare `kubectl get -o json` List, one object,
 * or the array of documents of a multi-document YAML file) and returns a validated envelope with
 * defaults filled in, or issues with RFC 6901 pointers into the ORIGINAL document.
 */
import { z } from 'zod'
import { k8s, KIND_SCHEMAS, type KnownKind } from './schemas.js'
import { parseCIDRSloppy } from './ip.js'
import { isDNS1123Subdomain, isValidCIDR, isValidIP, isValidLabelValue } from './validation.js'
import { INTERFACE_NAME, INTERFACE_NAME_RULE, NFACCT_COUNTERS, resolveNodes } from './settings.js'
import { GATE_NAMES, RELEASES, isRelease, releaseOf } from './releases.js'

/** `1.31` (also `v1.31`, `1.31.4`, `v1.31.4-eks.1`, read as their minor release). */
const kubeProxyVersion = z
  .string()
  .transform((v) => releaseOf(v))
  .refine(isRelease, { error: `must be a kube-proxy minor release natplan plans for: ${RELEASES.join(', ')}` })

/** Rule-changing feature gates by name; another name is refused (kube/releases.ts GATES). */
const featureGates = z.record(z.string(), z.boolean()).superRefine((gates, ctx) => {
  for (const g of Object.keys(gates)) {
    if (!(GATE_NAMES as string[]).includes(g))
      ctx.addIssue({
        code: 'custom',
        path: [g],
        message: `${JSON.stringify(g)} must be a feature gate that changes kube-proxy's iptables rules: ${GATE_NAMES.join(', ')}`,
      })
  }
})

const DETECT_LOCAL_MODES = ['ClusterCIDR', 'NodeCIDR', 'BridgeInterface', 'InterfaceNamePrefix', 'None'] as const
const detectLocalMode = z.enum(DETECT_LOCAL_MODES, { error: `must be one of ${DETECT_LOCAL_MODES.join(', ')}` })
const interfaceName = z.string().regex(INTERFACE_NAME, INTERFACE_NAME_RULE)

const ipString = k8s(isValidIP)

/** An iptables chain name (at most 28 characters, xt_table's limit), of safe characters. */
const chainList = z.array(z.string().regex(/^[A-Za-z0-9_.:@+-]{1,28}$/, 'must be an iptables chain name (1 to 28 letters, digits, _ . : @ + -)')).max(1_000_000)

/**
 * `--cluster-cidr`: one CIDR, or two of different families, comma-separated
 * (pkg/proxy/apis/config/validation/validation.go validateKubeProxyConfiguration). The text
 * reaches rules verbatim (`-s 10.0.0.0/8`, as NewDetectLocalByCIDR keeps it), so it must be
 * exactly a CIDR: no spaces, nothing else.
 */
const clusterCIDR = z.union([z.string(), z.array(z.string())]).superRefine((v, ctx) => {
  const list = Array.isArray(v) ? v : v === '' ? [] : v.split(',')
  if (list.length > 2) ctx.addIssue({ code: 'custom', message: 'at most two CIDRs (one per family) are allowed' })
  const families: string[] = []
  list.forEach((c, i) => {
    const parsed = parseCIDRSloppy(c)
    const path = Array.isArray(v) ? [i] : []
    if (!parsed) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(c)} must be a valid CIDR (e.g. 10.100.0.0/16 or fde4:8dba:82e1::/48)`, path })
    else if (families.includes(parsed.family))
      ctx.addIssue({ code: 'custom', message: 'two CIDRs must be of different families (e.g. 10.100.0.0/16,fde4:8dba:82e1::/48)', path })
    else families.push(parsed.family)
  })
})

/**
 * `nodePortAddresses`: CIDRs, or `primary` alone (validateKubeProxyNodePortAddress in the same
 * file; the keyword is expanded by cmd/kube-proxy/app/server.go).
 */
const nodePortAddresses = z.array(z.string()).superRefine((list, ctx) => {
  list.forEach((c, i) => {
    if (c === 'primary') {
      if (list.length !== 1) ctx.addIssue({ code: 'custom', message: "can't use both 'primary' and CIDRs", path: [i] })
    } else if (!parseCIDRSloppy(c)) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(c)} must be a valid CIDR or "primary"`, path: [i] })
  })
})

/** Settings one node may have of its own (`proxy.nodes[name]`): all but which node it is. */
const nodeSettings = {
  /** Node addresses; the first of each family is that family's primary IP. Default: the Node's InternalIP, then ExternalIP addresses. */
  nodeIPs: z.array(ipString).max(64).optional(),
  /** Families the node runs (one FamilyPlan each). Default: families of clusterCIDR, else of nodeIPs[0], else IPv4. */
  ipFamilies: z
    .array(z.enum(['IPv4', 'IPv6']))
    .min(1)
    .max(2)
    .optional(),
  /** `--cluster-cidr`: one CIDR per family, as a list or a comma-separated string. */
  clusterCIDR: clusterCIDR.optional(),
  /**
   * KubeProxyConfiguration's detectLocalMode (NodeCIDR: the node's spec.podCIDRs; BridgeInterface
   * and InterfaceNamePrefix: detectLocal's bridgeInterface and interfaceNamePrefix).
   */
  detectLocalMode: detectLocalMode.optional(),
  /** The older name of detectLocalMode. */
  localDetector: detectLocalMode.optional(),
  /** KubeProxyConfiguration's detectLocal: the interface detectors' parameters. */
  detectLocal: z.strictObject({ bridgeInterface: interfaceName.optional(), interfaceNamePrefix: interfaceName.optional() }).optional(),
  masqueradeBit: z.int().min(0).max(31).optional(),
  /** Verbatim mark string overriding the one derived from masqueradeBit (upstream tests use `0x4000`): a 32-bit hex value. */
  masqueradeMark: z
    .string()
    .regex(/^0[xX][0-9a-fA-F]{1,8}$/, 'must be a 32-bit hex mark like 0x4000')
    .optional(),
  masqueradeAll: z.boolean().optional(),
  nodePortAddresses: nodePortAddresses.optional(),
  localhostNodePorts: z.boolean().optional(),
  /**
   * Whether the node has kube-proxy's nfacct counters (natplan cannot see it): true/false for
   * both, or per counter (kube-proxy ensures each on its own at a full sync; one left out: present).
   */
  nfacct: z
    .union([z.boolean(), z.strictObject({ ct_state_invalid_dropped_pkts: z.boolean().optional(), localhost_nps_accepted_pkts: z.boolean().optional() })])
    .optional(),
  /** Whether the node's iptables supports --random-fully (natplan cannot see it). */
  masqueradeRandomFully: z.boolean().optional(),
  /** Whether nf_conntrack_tcp_be_liberal is set on the node (natplan cannot see it). */
  conntrackTCPBeLiberal: z.boolean().optional(),
  /** Node's `topology.kubernetes.io/zone` (a label value) for topology hints. Default: from the Node object. */
  zone: k8s(isValidLabelValue).optional(),
  /** The node's spec.podCIDRs, for the NodeCIDR detector. Default: from the Node object. */
  podCIDRs: z.array(k8s(isValidCIDR)).max(2).optional(),
  /**
   * The nat chains the node has now (its `iptables-save -t nat`, or the chains of its last
   * plan): on a full sync kube-proxy flushes and deletes the KUBE-SVC/SVL/EXT/FW/SEP chains of
   * them it no longer uses. A list for every family the node runs, or one per family.
   */
  existingChains: z.union([chainList, z.strictObject({ IPv4: chainList.optional(), IPv6: chainList.optional() })]).optional(),
}

export const NodeSettingsSchema = z.strictObject(nodeSettings)
export type NodeSettingsInput = z.output<typeof NodeSettingsSchema>

/**
 * kube-proxy settings as the envelope gives them: nothing is filled in here (natplan records
 * which settings it had to guess: src/planner/kube/settings.ts resolves them per node, under
 * the kube-proxy ConfigMap's, with kube-proxy's defaults under all).
 */
export const ProxyConfigSchema = z.strictObject({
  /**
   * Without Node objects: the one node planned (which endpoints are local). With them: the node
   * the one-node routes answer for (default: the only Node).
   */
  nodeName: z.union([z.literal(''), k8s(isDNS1123Subdomain)]).optional(),
  ...nodeSettings,
  /**
   * The kube-proxy release, cluster-wide (default: the current one): its feature-gate defaults
   * and rules (docs/releases.md).
   */
  kubeProxyVersion: kubeProxyVersion.optional(),
  /** Feature gates over the release's defaults (KubeProxyConfiguration featureGates), cluster-wide. */
  featureGates: featureGates.optional(),
  /** Per-node settings, by Node name, over the cluster's. */
  nodes: z.record(k8s(isDNS1123Subdomain), NodeSettingsSchema).optional(),
})
export type ProxyConfigInput = z.output<typeof ProxyConfigSchema>

export const KubeObjectSchema = z.looseObject({ kind: z.string() })

/** Shallow: items are checked per kind by `toEnvelope`; unknown kinds are kept and counted. */
export const EnvelopeSchema = z.object({
  proxy: ProxyConfigSchema.default({}),
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
const KIND = /^[A-Z][A-Za-z0-9]{0,62}$/

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

/** `a,b` (counter names, or none) as the per-counter form; an unknown name is kept for the schema to refuse. */
function nfacctFromList(v: string): unknown {
  const names = v === '' || v === 'none' ? [] : v.split(',').map((s) => s.trim())
  const out: Record<string, boolean> = Object.fromEntries(NFACCT_COUNTERS.map((c) => [c, false]))
  for (const n of names) out[n] = true
  return out
}

/** Coerce query-string values ("true", "14", "a,b") to the types of the proxy fields. */
function coerceOverrides(o: Record<string, unknown>): Record<string, unknown> {
  const shape = ProxyConfigSchema.shape as Record<string, unknown>
  const out: Record<string, unknown> = {}
  const bools = new Set(['masqueradeAll', 'localhostNodePorts', 'nfacct', 'masqueradeRandomFully', 'conntrackTCPBeLiberal'])
  const lists = new Set(['nodeIPs', 'nodePortAddresses', 'ipFamilies'])
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue
    // A query names detectLocal's fields flat (?bridgeInterface=cbr0).
    if ((k === 'bridgeInterface' || k === 'interfaceNamePrefix') && typeof v === 'string') {
      out.detectLocal = { ...(isObject(out.detectLocal) ? out.detectLocal : {}), [k]: v }
      continue
    }
    if (!(k in shape)) {
      out[k] = v
      continue
    }
    if (typeof v === 'string' && bools.has(k) && (v === 'true' || v === 'false')) out[k] = v === 'true'
    // ?featureGates=LoadBalancerIPMode=false,TopologyAwareHints=true (kube-proxy's --feature-gates form).
    else if (typeof v === 'string' && k === 'featureGates')
      out[k] = Object.fromEntries(
        v
          .split(',')
          .filter((s) => s.trim() !== '')
          .map((kv) => {
            const [g, b] = kv.split('=')
            return [g!.trim(), b?.trim() === 'true' ? true : b?.trim() === 'false' ? false : b]
          }),
      )
    // ?nfacct=ct_state_invalid_dropped_pkts: the counters the node has, the others absent.
    else if (typeof v === 'string' && k === 'nfacct') out[k] = nfacctFromList(v)
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
    // Enough to say what is wrong: a body of a million bad items is not a million issues.
    if (issues.length >= MAX_ISSUES) break
    const item = items[i]
    const at = `${base}/${i}`
    if (item === null || item === undefined) continue
    if (!isObject(item) || typeof item.kind !== 'string') {
      issues.push({ pointer: `${at}/kind`, detail: 'each item must be an object with a string kind' })
      continue
    }
    // Kinds are UpperCamelCase identifiers (k8s.io/apimachinery runtime.Scheme); an unknown one is
    // named in a warning, so it must be one too.
    if (!KIND.test(item.kind)) {
      issues.push({ pointer: `${at}/kind`, detail: 'kind must be a Kubernetes kind: an UpperCamelCase name of letters and digits, at most 63 characters' })
      continue
    }
    if (item.kind.endsWith('List') && Array.isArray(item.items)) {
      out.push(...validateItems(item.items, `${at}/items`, issues, trusted))
      continue
    }
    const schema = KIND_SCHEMAS[item.kind as KnownKind]
    if (trusted?.has(item)) {
      out.push(withoutNoise(item))
      continue
    }
    if (!schema) {
      out.push(item)
      continue
    }
    const r = schema.safeParse(item)
    if (!r.success) {
      for (const iss of r.error.issues) issues.push({ pointer: pointerOf(at, iss.path), detail: `${item.kind}: ${iss.message}` })
      continue
    }
    // The item itself, not zod's copy of it: the schemas are loose and transform nothing, so the
    // copy holds the same content, and keeping it would keep two object graphs of the snapshot
    // alive through planning (the young-generation GC copies what survives: ~0.1 s of a 10k plan).
    out.push(withoutNoise(item))
  }
  return out
}

/**
 * What of a Node changes without changing anything kube-proxy reads: the kubelet rewrites its
 * status (conditions' heartbeat times, images, allocatable, …) every few minutes and each write
 * bumps resourceVersion. Of a Node's status only its addresses reach rules (nodeIPs, the
 * nodeport addresses) and labels and spec (podCIDRs) are kept whole, so a node's heartbeat is
 * not a new cluster state — neither a new version nor a push of `natplan watch`.
 */
function withoutNodeNoise(obj: Record<string, unknown>): Record<string, unknown> {
  if (obj.kind !== 'Node') return obj
  const out: Record<string, unknown> = { ...obj }
  if (isObject(obj.metadata) && 'resourceVersion' in obj.metadata) {
    const { resourceVersion: _rv, ...meta } = obj.metadata
    out.metadata = meta
  }
  if (isObject(obj.status)) out.status = 'addresses' in obj.status ? { addresses: obj.status.addresses } : {}
  return out
}

/**
 * An object as natplan keeps it: without managedFields, and of a Node only what kube-proxy
 * reads of its status. Versions are deduplicated on these, so noise makes no new version.
 */
export function withoutNoise(obj: Record<string, unknown>): Record<string, unknown> {
  return withoutNodeNoise(stripManagedFields(obj))
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

export function toEnvelope(document: unknown, proxyOverrides?: Record<string, unknown>, opts: EnvelopeOptions = {}): ToEnvelopeResult {
  const loc = locate(document)
  if ('detail' in loc) return { ok: false, issues: [loc] }
  const issues: Issue[] = []
  if (loc.proxy !== undefined && !isObject(loc.proxy)) issues.push({ pointer: '/proxy', detail: 'proxy must be an object' })
  const items = validateItems(loc.items, loc.itemsPointer, issues, opts.trusted)
  const given = isObject(loc.proxy) ? loc.proxy : {}
  const overrides = coerceOverrides(proxyOverrides ?? {})
  const merged = { ...given, ...overrides }
  if (isObject(given.detectLocal) && isObject(overrides.detectLocal)) merged.detectLocal = { ...given.detectLocal, ...overrides.detectLocal }
  const proxy = ProxyConfigSchema.safeParse(merged)
  if (!proxy.success) for (const iss of proxy.error.issues) issues.push({ pointer: pointerOf('/proxy', iss.path), detail: `proxy: ${iss.message}` })
  if (issues.length > 0 || !proxy.success) return { ok: false, issues: issues.slice(0, MAX_ISSUES) }
  const envelope: Envelope = { proxy: proxy.data, resources: { apiVersion: 'v1', kind: 'List', items: items as Envelope['resources']['items'] } }
  // Settings that contradict each other or the Node objects; their pointers name envelope
  // items, which are mapped back to where the items came from in the document.
  const contradictions = resolveNodes(envelope).issues
  if (contradictions.length > 0) {
    const origins = itemOrigins(loc.items, loc.itemsPointer)
    const mapped = contradictions.map((i) => {
      const m = /^\/resources\/items\/(\d+)(.*)$/.exec(i.pointer)
      return m && origins[Number(m[1])] !== undefined ? { ...i, pointer: origins[Number(m[1])]! + m[2]! } : i
    })
    return { ok: false, issues: mapped.slice(0, MAX_ISSUES) }
  }
  envelope.proxy = canonicalProxy(envelope.proxy)
  return { ok: true, envelope }
}

/**
 * Equivalent settings written one way, so that the same settings are the same snapshot:
 * `clusterCIDR` as a list, `localDetector` under its current name `detectLocalMode` (when they
 * contradict, resolveNodes has refused the envelope already).
 */
function canonicalProxy(p: ProxyConfigInput): ProxyConfigInput {
  const one = <T extends NodeSettingsInput>(s: T): T => {
    const out: T = { ...s }
    if (typeof out.clusterCIDR === 'string')
      out.clusterCIDR =
        out.clusterCIDR === ''
          ? []
          : out.clusterCIDR
              .split(',')
              .map((c) => c.trim())
              .filter((c) => c !== '')
    if (out.localDetector !== undefined) {
      out.detectLocalMode ??= out.localDetector
      delete out.localDetector
    }
    return out
  }
  const out = one(p)
  if (p.nodes) out.nodes = Object.fromEntries(Object.entries(p.nodes).map(([k, v]) => [k, one(v)]))
  return out
}

/** The document pointer of each envelope item, in envelope order (nested Lists flattened as validateItems does). */
function itemOrigins(items: unknown[], base: string): string[] {
  const out: string[] = []
  items.forEach((item, i) => {
    if (!isObject(item)) return
    if (typeof item.kind === 'string' && item.kind.endsWith('List') && Array.isArray(item.items)) out.push(...itemOrigins(item.items, `${base}/${i}/items`))
    else out.push(`${base}/${i}`)
  })
  return out
}
