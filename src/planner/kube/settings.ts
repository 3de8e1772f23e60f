/**
 * kube-proxy's settings for every node of a snapshot, resolved. Sources, later ones winning:
 *
 * 1. kube-proxy's own defaults (pkg/proxy/apis/config/v1alpha1/defaults.go
 *    SetDefaults_KubeProxyConfiguration, and for facts of the node natplan cannot see — its
 *    iptables' `--random-fully`, the nfacct counters, `nf_conntrack_tcp_be_liberal` — those of
 *    a current node);
 * 2. the `kube-system/kube-proxy` ConfigMap's `config.conf` (a KubeProxyConfiguration, as
 *    kubeadm writes it: a field that is null or empty means kube-proxy's default, and counts as
 *    given, not guessed);
 * 3. the envelope's `proxy`, with the query parameters over it;
 * 4. per node: the Node object (name, InternalIP then ExternalIP addresses per family, as
 *    GetNodeHostIPs orders them, `spec.podCIDRs`, the `topology.kubernetes.io/zone` label), then
 *    `proxy.nodes[name]`.
 *
 * Every setting no source gave is listed in `defaulted`, so that nobody mistakes a guessed plan
 * for the node's.
 */
import { z } from 'zod'
import type { Family, PlanWarning } from '../types.js'
import type { Envelope, Issue, ProxyConfigInput, NodeSettingsInput } from './envelope.js'
import type { NodeObject } from './schemas.js'
import { parseIPSloppy } from './ip.js'
import { composeWithin } from './yaml-shape.js'
import { CURRENT_RELEASE, resolveGates, type Gates, type Release } from './releases.js'

/** kube-proxy's nfacct counters (pkg/proxy/metrics/metrics.go), by counter name: present on the node or not. */
export const NFACCT_COUNTERS = ['ct_state_invalid_dropped_pkts', 'localhost_nps_accepted_pkts'] as const
export type NfacctCounters = Record<(typeof NFACCT_COUNTERS)[number], boolean>

/**
 * The `nfacct` setting as given: a boolean for both counters (the older form), or per counter
 * (a counter left out is present, as on a current node).
 */
export function nfacctCounters(v: boolean | Partial<NfacctCounters> | undefined): NfacctCounters {
  if (typeof v === 'boolean') return { ct_state_invalid_dropped_pkts: v, localhost_nps_accepted_pkts: v }
  return { ct_state_invalid_dropped_pkts: v?.ct_state_invalid_dropped_pkts ?? true, localhost_nps_accepted_pkts: v?.localhost_nps_accepted_pkts ?? true }
}

export type DetectLocalMode = 'ClusterCIDR' | 'NodeCIDR' | 'BridgeInterface' | 'InterfaceNamePrefix' | 'None'

/** Every setting the planner reads for one node. */
export interface NodeConfig {
  nodeName: string
  /** The node's addresses; the first of each family is that family's primary IP. */
  nodeIPs: string[]
  zone: string
  podCIDRs: string[]
  ipFamilies?: Family[]
  /** `--cluster-cidr`, one per family (as given: the detector writes it as it is). */
  clusterCIDR: string[]
  detectLocalMode: DetectLocalMode
  /** detectLocal.bridgeInterface: the BridgeInterface detector's bridge (`-i BR`). */
  bridgeInterface?: string
  /** detectLocal.interfaceNamePrefix: the InterfaceNamePrefix detector's prefix (`-i PREFIX+`). */
  interfaceNamePrefix?: string
  masqueradeBit: number
  masqueradeMark?: string
  masqueradeAll: boolean
  nodePortAddresses: string[]
  localhostNodePorts: boolean
  /** Which of kube-proxy's nfacct counters the node has (each is checked on its own). */
  nfacct: NfacctCounters
  masqueradeRandomFully: boolean
  conntrackTCPBeLiberal: boolean
  /** The kube-proxy release (cluster-wide): its feature-gate defaults (kube/releases.ts). */
  kubeProxyVersion: Release
  /** The rule-changing feature gates, the release's defaults under featureGates (cluster-wide). */
  gates: Gates
  /** The node's current nat chains per family, when given (stale ones are deleted on a full sync). */
  existingChains?: Partial<Record<Family, string[]>>
}

/** The settings `defaulted` may name: what a source can give and natplan otherwise guesses. */
export const SETTINGS = [
  'nodeName',
  'nodeIPs',
  'clusterCIDR',
  'detectLocalMode',
  'masqueradeBit',
  'masqueradeAll',
  'nodePortAddresses',
  'localhostNodePorts',
  'nfacct',
  'masqueradeRandomFully',
  'conntrackTCPBeLiberal',
  'kubeProxyVersion',
] as const
type Setting = (typeof SETTINGS)[number]

const DEFAULTS: Omit<NodeConfig, 'nodeName' | 'nodeIPs' | 'zone' | 'podCIDRs' | 'gates'> = {
  clusterCIDR: [],
  detectLocalMode: 'ClusterCIDR',
  masqueradeBit: 14,
  masqueradeAll: false,
  nodePortAddresses: [],
  localhostNodePorts: true,
  nfacct: { ct_state_invalid_dropped_pkts: true, localhost_nps_accepted_pkts: true },
  masqueradeRandomFully: true,
  conntrackTCPBeLiberal: false,
  kubeProxyVersion: CURRENT_RELEASE,
}

/**
 * The KubeProxyConfiguration fields that shape iptables rules
 * (pkg/proxy/apis/config/v1alpha1 types.go); the others pass.
 */
const KubeProxyConfigurationSchema = z.looseObject({
  kind: z.literal('KubeProxyConfiguration', { error: 'kind must be KubeProxyConfiguration' }).nullish(),
  mode: z.string().nullish(),
  clusterCIDR: z.string().nullish(),
  detectLocalMode: z
    .enum(['', 'ClusterCIDR', 'NodeCIDR', 'None', 'BridgeInterface', 'InterfaceNamePrefix'], {
      error: 'detectLocalMode must be ClusterCIDR, NodeCIDR, BridgeInterface or InterfaceNamePrefix',
    })
    .nullish(),
  detectLocal: z
    .looseObject({
      bridgeInterface: z.string().nullish(),
      interfaceNamePrefix: z.string().nullish(),
    })
    .nullish(),
  nodePortAddresses: z.array(z.string()).nullish(),
  iptables: z
    .looseObject({
      masqueradeBit: z.int().min(0).max(31).nullish(),
      masqueradeAll: z.boolean().nullish(),
      localhostNodePorts: z.boolean().nullish(),
    })
    .nullish(),
  conntrack: z.looseObject({ tcpBeLiberal: z.boolean().nullish() }).nullish(),
  featureGates: z.record(z.string(), z.boolean()).nullish(),
})

/** A Linux interface name (dev_valid_name: 1 to 15 bytes, no `/`, `:` or white space), kept to iptables-safe characters. */
export const INTERFACE_NAME = /^[A-Za-z0-9_.@-]{1,15}$/
export const INTERFACE_NAME_RULE = 'must be a network interface name: 1 to 15 letters, digits, `_`, `.`, `@` or `-`'

/** `kube-system/kube-proxy`, where kubeadm (and most installers) keep kube-proxy's configuration. */
export function isKubeProxyConfigMap(o: { kind?: unknown; metadata?: unknown }): boolean {
  const m = o.metadata as { name?: unknown; namespace?: unknown } | undefined
  return o.kind === 'ConfigMap' && m?.name === 'kube-proxy' && m?.namespace === 'kube-system'
}

/** The kube-proxy ConfigMap's item, when the snapshot has one. */
export function kubeProxyConfigMap(items: readonly Record<string, unknown>[]): { item: number; text: unknown } | null {
  for (let i = 0; i < items.length; i++) {
    const o = items[i] as { kind?: unknown; metadata?: unknown; data?: Record<string, unknown> }
    if (isKubeProxyConfigMap(o)) return { item: i, text: o.data?.['config.conf'] }
  }
  return null
}

/** Nesting deeper than this in config.conf is refused before the YAML composer sees it. */
const MAX_DEPTH = 32
const MAX_ALIASES = 16

/** Settings given by config.conf (as ProxyConfigInput fields), or issues pointing into it. */
export function settingsFromConfigMap(text: unknown, pointer: string): { given: ProxyConfigInput; warnings: PlanWarning[] } | { issues: Issue[] } {
  const at = `${pointer}/data/config.conf`
  if (typeof text !== 'string')
    return { issues: [{ pointer: at, detail: "the kube-proxy ConfigMap has no data['config.conf'] (kubeadm keeps the KubeProxyConfiguration there)" }] }
  if (text.length > 1024 * 1024) return { issues: [{ pointer: at, detail: 'config.conf is larger than a ConfigMap may be (1 MiB)' }] }
  let doc: unknown
  try {
    // Bracket and block nesting alike, measured on the CST before composing (./yaml-shape.ts).
    const composed = composeWithin(text, { maxDepth: MAX_DEPTH, maxAliases: MAX_ALIASES })
    if ('refused' in composed) return { issues: [{ pointer: at, detail: `config.conf ${composed.refused}` }] }
    if (composed.docs.length > 1) throw new Error('Source contains multiple documents')
    const d = composed.docs[0]
    if (d?.errors[0]) throw d.errors[0]
    // as yaml's parse(): an empty text is null
    doc = d ? d.toJS({ maxAliasCount: MAX_ALIASES }) : null
  } catch (err) {
    return { issues: [{ pointer: at, detail: `config.conf is not YAML: ${(err as Error).message.split('\n')[0]}` }] }
  }
  const r = KubeProxyConfigurationSchema.safeParse(doc)
  if (!r.success)
    return { issues: r.error.issues.slice(0, 20).map((i) => ({ pointer: `${at}/${i.path.join('/')}`, detail: `KubeProxyConfiguration: ${i.message}` })) }
  const c = r.data
  const given: ProxyConfigInput = {}
  const warnings: PlanWarning[] = []
  // Present means given: kubeadm writes null, "" and false for "kube-proxy's default".
  if (c.clusterCIDR !== undefined) given.clusterCIDR = c.clusterCIDR ? c.clusterCIDR.split(',') : []
  if (c.detectLocalMode !== undefined) given.detectLocalMode = c.detectLocalMode || 'ClusterCIDR'
  // detectLocal's fields: "" is unset (kubeadm writes them empty); they are read only by their mode.
  const detectLocal: NonNullable<ProxyConfigInput['detectLocal']> = {}
  for (const f of ['bridgeInterface', 'interfaceNamePrefix'] as const) {
    const v = c.detectLocal?.[f]
    if (typeof v !== 'string' || v === '') continue
    if (!INTERFACE_NAME.test(v))
      return { issues: [{ pointer: `${at}/detectLocal/${f}`, detail: `KubeProxyConfiguration: detectLocal.${f} ${JSON.stringify(v)} ${INTERFACE_NAME_RULE}` }] }
    detectLocal[f] = v
  }
  if (Object.keys(detectLocal).length > 0) given.detectLocal = detectLocal
  if (c.nodePortAddresses !== undefined) given.nodePortAddresses = c.nodePortAddresses ?? []
  if (c.iptables?.masqueradeBit !== undefined) given.masqueradeBit = c.iptables.masqueradeBit ?? DEFAULTS.masqueradeBit
  if (c.iptables?.masqueradeAll !== undefined) given.masqueradeAll = c.iptables.masqueradeAll ?? false
  if (c.iptables?.localhostNodePorts !== undefined) given.localhostNodePorts = c.iptables.localhostNodePorts ?? true
  // tcpBeLiberal: true makes kube-proxy set the sysctl; false leaves it as the node has it.
  if (c.conntrack?.tcpBeLiberal === true) given.conntrackTCPBeLiberal = true
  if (c.featureGates) given.featureGates = c.featureGates
  if (c.mode && c.mode !== 'iptables') {
    warnings.push({
      code: 'proxy-mode',
      message: `the ConfigMap runs kube-proxy in ${c.mode} mode; natplan plans what iptables mode writes`,
      pointer: `${at}/mode`,
    })
  }
  return { given, warnings }
}

/** A Node's facts: its addresses (InternalIP, then ExternalIP), zone and pod CIDRs. */
export function nodeFacts(node: NodeObject): { nodeIPs: string[]; zone: string; podCIDRs: string[] } {
  const addrs = node.status?.addresses ?? []
  const ips = [...addrs.filter((a) => a.type === 'InternalIP'), ...addrs.filter((a) => a.type === 'ExternalIP')]
    .map((a) => a.address)
    .filter((a) => parseIPSloppy(a) !== null)
  const podCIDRs = node.spec?.podCIDRs?.length ? node.spec.podCIDRs : node.spec?.podCIDR ? [node.spec.podCIDR] : []
  return { nodeIPs: ips, zone: node.metadata.labels?.['topology.kubernetes.io/zone'] ?? '', podCIDRs }
}

export interface ResolvedNodes {
  /** Every node to plan: the Node objects' in name order, or the one node of a snapshot without any. */
  nodes: NodeConfig[]
  /** The node the settings name, or the only one; null when neither. */
  defaultNode: string | null
  defaulted: Setting[]
  /** The cluster's kube-proxy release and its rule-changing gates (every node's). */
  kubeProxyVersion: Release
  gates: Gates
  warnings: PlanWarning[]
  /** Settings that contradict each other or the Node objects (a 400 at ingest). */
  issues: Issue[]
}

const NODE_FACTS = ['nodeIPs', 'zone', 'podCIDRs', 'existingChains'] as const

function clusterCIDRList(v: string | string[] | undefined): string[] | undefined {
  if (v === undefined) return undefined
  return (Array.isArray(v) ? v : v === '' ? [] : v.split(',')).map((s) => s.trim()).filter((s) => s !== '')
}

/** The envelope's settings with the legacy `localDetector` read as `detectLocalMode`. */
function normalise(p: ProxyConfigInput | NodeSettingsInput, at: string, issues: Issue[]): ProxyConfigInput {
  const out: ProxyConfigInput = { ...p }
  if (p.localDetector !== undefined) {
    if (p.detectLocalMode !== undefined && p.detectLocalMode !== p.localDetector) {
      issues.push({
        pointer: `${at}/localDetector`,
        detail: `localDetector ${p.localDetector} contradicts detectLocalMode ${p.detectLocalMode} (localDetector is the older name of detectLocalMode)`,
      })
    }
    out.detectLocalMode = p.detectLocalMode ?? p.localDetector
    delete out.localDetector
  }
  if (p.clusterCIDR !== undefined) out.clusterCIDR = clusterCIDRList(p.clusterCIDR)
  return out
}

/** Settings as resolved from one source: detectLocal's fields flattened, so that each source can give one of them. */
type Given = Omit<ProxyConfigInput, 'detectLocal'> & { bridgeInterface?: string; interfaceNamePrefix?: string }

function flatten(p: ProxyConfigInput): Given {
  const { detectLocal, ...rest } = p
  const out: Given = rest
  if (detectLocal?.bridgeInterface !== undefined) out.bridgeInterface = detectLocal.bridgeInterface
  if (detectLocal?.interfaceNamePrefix !== undefined) out.interfaceNamePrefix = detectLocal.interfaceNamePrefix
  return out
}

export function resolveNodes(env: Envelope): ResolvedNodes {
  const items = env.resources.items as Record<string, unknown>[]
  const issues: Issue[] = []
  const warnings: PlanWarning[] = []
  let fromConfigMap: Given = {}
  let configMapAt = ''
  const cm = kubeProxyConfigMap(items)
  if (cm) {
    const r = settingsFromConfigMap(cm.text, `/resources/items/${cm.item}`)
    if ('issues' in r) issues.push(...r.issues)
    else {
      fromConfigMap = flatten(r.given)
      configMapAt = `/resources/items/${cm.item}/data/config.conf`
      warnings.push(...r.warnings)
    }
  }
  const { nodes: perNode = {}, ...clusterGiven } = env.proxy
  const proxy = flatten(normalise(clusterGiven, '/proxy', issues))
  const cluster: Given = { ...fromConfigMap, ...proxy }
  // Feature gates, merged gate by gate: the ConfigMap's, then the envelope's, over the release's defaults.
  const release = proxy.kubeProxyVersion ?? CURRENT_RELEASE
  const cmGates = fromConfigMap.featureGates ?? {}
  const envGates = proxy.featureGates ?? {}
  const { gates, issues: gateIssues } = resolveGates(release, { ...cmGates, ...envGates })
  for (const gi of gateIssues) {
    if (gi.gate in envGates) issues.push({ pointer: `/proxy/featureGates/${gi.gate}`, detail: gi.detail })
    // A ConfigMap's featureGates may hold gates of other components (or ones that change no
    // rules): natplan warns and plans on; a known gate that this release refuses is an error.
    else if (gi.unknown)
      warnings.push({
        code: 'unknown-feature-gate',
        message: `the kube-proxy ConfigMap sets feature gate ${gi.gate}, which changes no iptables rule natplan knows of: ignored (natplan reads ${Object.keys(gates).join(', ')})`,
        pointer: `${configMapAt}/featureGates/${gi.gate}`,
      })
    else issues.push({ pointer: `${configMapAt}/featureGates/${gi.gate}`, detail: gi.detail })
  }
  delete cluster.featureGates
  const nodeObjects = (items.filter((o) => o.kind === 'Node') as unknown as NodeObject[]).sort((a, b) =>
    a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0,
  )
  const names = new Set(nodeObjects.map((n) => n.metadata.name))
  for (const name of Object.keys(perNode)) {
    if (!names.has(name) && name !== (proxy.nodeName ?? '')) {
      issues.push({ pointer: `/proxy/nodes/${name}`, detail: `no Node named ${JSON.stringify(name)} in the snapshot` })
    }
  }
  let defaultNode: string | null
  let planned: Array<{ name: string; facts: Pick<ProxyConfigInput, (typeof NODE_FACTS)[number]> }>
  if (nodeObjects.length === 0) {
    defaultNode = proxy.nodeName ?? ''
    planned = [{ name: defaultNode, facts: {} }]
  } else {
    defaultNode = proxy.nodeName ? proxy.nodeName : nodeObjects.length === 1 ? nodeObjects[0]!.metadata.name : null
    // proxy.nodeIPs / zone / podCIDRs describe one node: the default one.
    for (const f of NODE_FACTS) {
      if (proxy[f] !== undefined && defaultNode === null) {
        issues.push({
          pointer: `/proxy/${f}`,
          detail: `${f} describes one node, and the snapshot has ${nodeObjects.length}: name it with nodeName, or give each node's in proxy.nodes`,
        })
      }
    }
    planned = nodeObjects.map((n) => ({ name: n.metadata.name, facts: nodeFacts(n) }))
    // A node the snapshot holds no Node object of (kube-proxy, which reads its own Node, would
    // wait for it): planned from the envelope's settings alone, beside the others.
    if (defaultNode !== null && !names.has(defaultNode)) {
      warnings.push({
        code: 'node-not-in-snapshot',
        message: `no Node named ${JSON.stringify(defaultNode)} in the snapshot (it has ${[...names].slice(0, 5).join(', ')}${names.size > 5 ? ', …' : ''}): it is planned from the envelope's settings alone`,
        pointer: '/proxy/nodeName',
      })
      planned.push({ name: defaultNode, facts: {} })
      planned.sort((a, b) => (a.name < b.name ? -1 : 1))
    }
  }
  const defaulted = new Set<Setting>()
  const nodes = planned.map(({ name, facts }) => {
    const own = flatten(normalise(perNode[name] ?? {}, `/proxy/nodes/${name}`, issues))
    const isDefault = name === defaultNode
    const given: Given = { ...cluster, ...facts }
    // The envelope's node facts apply to the default node, over its Node object's.
    if (isDefault) for (const f of NODE_FACTS) if (proxy[f] !== undefined) Object.assign(given, { [f]: proxy[f] })
    Object.assign(given, own)
    for (const s of SETTINGS) if (s !== 'nodeName' && given[s] === undefined) defaulted.add(s)
    const cfg: NodeConfig = {
      ...DEFAULTS,
      ...(Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as Partial<NodeConfig>),
      nodeName: name,
      nodeIPs: given.nodeIPs ?? [],
      zone: given.zone ?? '',
      podCIDRs: given.podCIDRs ?? [],
      clusterCIDR: clusterCIDRList(given.clusterCIDR) ?? [],
      nfacct: nfacctCounters(given.nfacct),
      existingChains: Array.isArray(given.existingChains) ? { IPv4: given.existingChains, IPv6: given.existingChains } : given.existingChains,
      kubeProxyVersion: release,
      gates,
    }
    if (cfg.nodeIPs.length === 0 && nodeObjects.length > 0) {
      warnings.push({
        code: 'node-without-address',
        message: `node ${name} has no InternalIP or ExternalIP address: kube-proxy cannot tell its node IP and assumes loopback (127.0.0.1, ::1)`,
        pointer: `/resources/items/${items.indexOf(nodeObjects.find((n) => n.metadata.name === name) as unknown as Record<string, unknown>)}/status/addresses`,
      })
    }
    // validateKubeProxyConfiguration: an interface detector needs its interface.
    for (const [mode, field] of [
      ['BridgeInterface', 'bridgeInterface'],
      ['InterfaceNamePrefix', 'interfaceNamePrefix'],
    ] as const) {
      if (cfg.detectLocalMode !== mode || cfg[field]) continue
      const at =
        own.detectLocalMode !== undefined
          ? `/proxy/nodes/${name}/detectLocal/${field}`
          : proxy.detectLocalMode !== undefined || !configMapAt
            ? `/proxy/detectLocal/${field}`
            : `${configMapAt}/detectLocal/${field}`
      const detail = `detectLocalMode ${mode} needs detectLocal.${field} (the ${mode === 'BridgeInterface' ? "pods' bridge, matched as -i BRIDGE" : "pods' interface name prefix, matched as -i PREFIX+"})`
      if (!issues.some((i) => i.pointer === at)) issues.push({ pointer: at, detail })
    }
    if (cfg.detectLocalMode === 'NodeCIDR' && cfg.podCIDRs.length === 0) {
      const at = nodeObjects.length
        ? `/resources/items/${items.indexOf(nodeObjects.find((n) => n.metadata.name === name) as unknown as Record<string, unknown>)}/spec/podCIDRs`
        : '/proxy/podCIDRs'
      issues.push({
        pointer: at,
        detail: `node ${name || '(unnamed)'} has no pod CIDRs, which the NodeCIDR local-traffic detector needs (kube-proxy waits for them and writes no rules until it has them)`,
      })
    }
    return cfg
  })
  if (nodeObjects.length === 0 && defaultNode === '') defaulted.add('nodeName')
  if (nodeObjects.length === 0) {
    const others = endpointNodes(items, defaultNode ?? '')
    if (others.size > 0) {
      const names = [...others].sort()
      warnings.push({
        code: 'endpoints-on-undescribed-nodes',
        message:
          `endpoints name node${names.length > 1 ? 's' : ''} ${names.slice(0, 5).join(', ')}${names.length > 5 ? `, … (${names.length})` : ''} the snapshot has no Node objects of: ` +
          `only ${defaultNode ? `node ${defaultNode}` : 'a node without a name'} is planned, and to it their endpoints are remote (Local traffic policies drop there). ` +
          'Include the Node objects (kubectl get …,nodes) to plan every node',
        pointer: defaultNode ? '/proxy/nodeName' : '/resources/items',
      })
    }
  }
  return { nodes, defaultNode, defaulted: SETTINGS.filter((s) => defaulted.has(s)), kubeProxyVersion: release, gates, warnings, issues }
}

/** The nodes EndpointSlice and Endpoints endpoints name, other than `planned`. */
function endpointNodes(items: readonly Record<string, unknown>[], planned: string): Set<string> {
  const out = new Set<string>()
  const add = (n: unknown): void => {
    if (typeof n === 'string' && n !== '' && n !== planned) out.add(n)
  }
  for (const o of items) {
    if (o.kind === 'EndpointSlice') for (const e of (o.endpoints as Array<{ nodeName?: unknown }> | undefined) ?? []) add(e.nodeName)
    else if (o.kind === 'Endpoints') {
      for (const sub of (o.subsets as Array<{ addresses?: Array<{ nodeName?: unknown }>; notReadyAddresses?: Array<{ nodeName?: unknown }> }> | undefined) ??
        []) {
        for (const a of [...(sub.addresses ?? []), ...(sub.notReadyAddresses ?? [])]) add(a.nodeName)
      }
    }
  }
  return out
}

/** One node's settings (default: the default node's), or undefined when there is no such node. */
export function nodeConfig(env: Envelope, node?: string): NodeConfig | undefined {
  const r = resolveNodes(env)
  const name = node ?? r.defaultNode
  return r.nodes.find((n) => n.nodeName === name)
}
