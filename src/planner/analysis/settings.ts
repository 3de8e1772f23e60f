/**
 * "Which kube-proxy wrote this?": the settings a set of rules shows — a node's iptables-save, or
 * natplan's own plan of it — and the differences between two such sets, each one finding.
 *
 * Every setting is read off the rules syncProxyRules (pkg/proxy/iptables/proxier.go) writes for
 * it; one the rules do not show (no service that would carry it) is left undecided:
 *
 * - masquerade mark: KUBE-MARK-MASQ's `-j MARK --or-mark M` (printed `--set-xmark M/M`); the
 *   masquerade bit when M is one bit;
 * - `--random-fully`: on KUBE-POSTROUTING's MASQUERADE (iptables.HasRandomFully);
 * - conntrack TCP be-liberal: KUBE-FORWARD's `--ctstate INVALID … -j DROP` absent (written only
 *   when `!proxier.conntrackTCPLiberal`);
 * - nfacct counters, each on its own: `-m nfacct --nfacct-name ct_state_invalid_dropped_pkts` on
 *   that INVALID drop; the `localhost_nps_accepted_pkts` KUBE-NODEPORTS rules (written only with
 *   that counter, localhost NodePorts on and a NodePort with endpoints);
 * - localhost NodePorts: the KUBE-SERVICES → KUBE-NODEPORTS jump with `--dst-type LOCAL` has
 *   `! -d 127.0.0.0/8` when they are off (IPv4);
 * - local-traffic detector: the internal masquerade rule of a KUBE-SVC/SVL chain ("… cluster IP"
 *   → KUBE-MARK-MASQ) carries IfNotLocal (`! -s CIDR`, `! -i BR`, `! -i PREFIX+`), nothing with
 *   masqueradeAll, and is absent with no detector (localdetector.go; NoOp: IsImplemented false);
 *   the EXT chains' "pod traffic" rule carries IfLocal;
 * - LoadBalancerIPMode (and so the release, where the gate's default decides): an ingress IP with
 *   `ipMode: Proxy` in the snapshot has rules only where the gate is off (IsVIPMode);
 * - the release, where visible: the releases whose gate defaults fit, narrowed by what only later
 *   releases write (an nfacct match: 1.31 on; the INVALID drop left out: 1.29 on; kube/releases.ts SINCE).
 */
import type { Family } from '../types.js'
import { atLeast, RELEASES, SINCE, stageOf, type Release } from '../kube/releases.js'

/** One rule of either side, in canonical (iptables-save) form. */
export interface SettingsRule {
  table: string
  chain: string
  canonical: string
  /** 1-based line of the node's dump (node side only). */
  line?: number
}

/** The detector as the rules show it: IfNotLocal's words, or `masqueradeAll`, or `none`. */
export type DetectorSeen = { kind: 'cidr' | 'bridge' | 'prefix'; value: string } | { kind: 'masqueradeAll' } | { kind: 'none' }

export interface Evidence {
  rule: string
  line?: number
}

export interface InferredSettings {
  family: Family
  masqueradeMark?: string
  masqueradeBit?: number
  masqueradeRandomFully?: boolean
  conntrackTCPBeLiberal?: boolean
  nfacct: { ct_state_invalid_dropped_pkts?: boolean; localhost_nps_accepted_pkts?: boolean }
  localhostNodePorts?: boolean
  localDetector?: DetectorSeen
  loadBalancerIPMode?: boolean
  /** Releases whose gate defaults agree with what the rules show (absent: nothing shows it). */
  releases?: string[]
  evidence: Partial<Record<SettingName, Evidence>>
}

export const SETTING_NAMES = [
  'masqueradeMark',
  'masqueradeRandomFully',
  'conntrackTCPBeLiberal',
  'nfacct.ct_state_invalid_dropped_pkts',
  'nfacct.localhost_nps_accepted_pkts',
  'localhostNodePorts',
  'localDetector',
  'LoadBalancerIPMode',
] as const
export type SettingName = (typeof SETTING_NAMES)[number]

export interface SettingMismatch {
  setting: SettingName
  /** What natplan's plan shows (what it was told), and what the node's rules show. */
  told: string
  node: string
  /** A line of the node's dump showing it (or the plan's rule the node lacks). */
  evidence?: Evidence
  /** The settings that say it, for whoever fixes the input. */
  fix: string
}

const SERVICE_CHAIN = /^KUBE-(SVC|SVL)-/
const EXT_CHAIN = /^KUBE-EXT-/

/** What the rules show of kube-proxy's settings. `proxyIngressIPs`: the snapshot's ingress IPs with ipMode Proxy (`a.b.c.d/32` form or bare). */
export function inferSettings(rules: readonly SettingsRule[], family: Family, proxyIngressIPs: readonly string[] = []): InferredSettings {
  const out: InferredSettings = { family, nfacct: {}, evidence: {} }
  const ev = (s: SettingName, r: SettingsRule) => (out.evidence[s] ??= { rule: r.canonical, ...(r.line !== undefined ? { line: r.line } : {}) })
  let forwardRules = 0
  let invalid: SettingsRule | undefined
  let nodePortRules = 0
  let localhostRule: SettingsRule | undefined
  let jump: SettingsRule | undefined
  let clusterIPJumps = 0
  const masq: SettingsRule[] = []
  const pod: SettingsRule[] = []
  const proxyTargets = new Set(proxyIngressIPs.map((ip) => (ip.includes('/') ? ip : `${ip}/${family === 'IPv4' ? 32 : 128}`)))
  let proxyIngressRule: SettingsRule | undefined
  let loadBalancerRules = 0
  for (const r of rules) {
    const c = r.canonical
    if (r.table === 'nat') {
      if (r.chain === 'KUBE-MARK-MASQ') {
        const m = / -j MARK --set-xmark (0x[0-9a-f]+)\/0x[0-9a-f]+/.exec(c)
        if (m && out.masqueradeMark === undefined) {
          out.masqueradeMark = m[1]!
          const v = parseInt(m[1]!, 16)
          if (v > 0 && (v & (v - 1)) === 0) out.masqueradeBit = Math.log2(v)
          ev('masqueradeMark', r)
        }
      } else if (r.chain === 'KUBE-POSTROUTING' && / -j MASQUERADE\b/.test(c)) {
        out.masqueradeRandomFully = / --random-fully\b/.test(c)
        ev('masqueradeRandomFully', r)
      } else if (r.chain === 'KUBE-NODEPORTS') {
        nodePortRules++
        if (c.includes('--nfacct-name localhost_nps_accepted_pkts')) localhostRule ??= r
      } else if (r.chain === 'KUBE-SERVICES') {
        if (c.includes('must be the last rule') && c.includes('--dst-type LOCAL')) jump = r
        if (c.includes(' cluster IP"')) clusterIPJumps++
        if (c.includes(' loadbalancer IP"')) {
          loadBalancerRules++
          const d = / -d (\S+) /.exec(c)?.[1]
          if (d && proxyTargets.has(d)) proxyIngressRule ??= r
        }
      } else if (SERVICE_CHAIN.test(r.chain) && c.endsWith(' -j KUBE-MARK-MASQ') && c.includes(' cluster IP"')) masq.push(r)
      else if (EXT_CHAIN.test(r.chain) && c.includes('"pod traffic for ')) pod.push(r)
    } else if (r.table === 'filter' && r.chain === 'KUBE-FORWARD') {
      forwardRules++
      if (c.includes('--ctstate INVALID') && c.endsWith('-j DROP')) invalid = r
    }
  }
  if (forwardRules > 0) {
    out.conntrackTCPBeLiberal = invalid === undefined
    if (invalid) {
      ev('conntrackTCPBeLiberal', invalid)
      out.nfacct.ct_state_invalid_dropped_pkts = invalid.canonical.includes('--nfacct-name ct_state_invalid_dropped_pkts')
      ev('nfacct.ct_state_invalid_dropped_pkts', invalid)
    }
  }
  if (jump && family === 'IPv4') {
    out.localhostNodePorts = !jump.canonical.includes('! -d 127.0.0.0/8')
    ev('localhostNodePorts', jump)
  }
  // Only a plan with localhost NodePorts and a NodePort rule shows the counter.
  if (out.localhostNodePorts && nodePortRules > 0) {
    out.nfacct.localhost_nps_accepted_pkts = localhostRule !== undefined
    if (localhostRule) ev('nfacct.localhost_nps_accepted_pkts', localhostRule)
  }
  const m = masq[0]
  if (m) {
    const s = / ! -s (\S+) /.exec(m.canonical)
    const i = / ! -i (\S+) /.exec(m.canonical)
    out.localDetector = s
      ? { kind: 'cidr', value: s[1]! }
      : i
        ? i[1]!.endsWith('+')
          ? { kind: 'prefix', value: i[1]!.slice(0, -1) }
          : { kind: 'bridge', value: i[1]! }
        : { kind: 'masqueradeAll' }
    ev('localDetector', m)
  } else if (clusterIPJumps > 0) {
    // Cluster IPs with endpoints and no internal masquerade rule anywhere: no detector, no masqueradeAll.
    out.localDetector = { kind: 'none' }
  }
  if (proxyTargets.size > 0 && (proxyIngressRule || loadBalancerRules > 0 || clusterIPJumps > 0)) {
    // A Proxy-mode ingress IP with rules: the gate is off. Without: on (if its service has endpoints at all, which callers check).
    out.loadBalancerIPMode = proxyIngressRule === undefined
    if (proxyIngressRule) ev('LoadBalancerIPMode', proxyIngressRule)
    out.releases = RELEASES.filter((r) => (stageOf('LoadBalancerIPMode', r)?.default ?? false) === out.loadBalancerIPMode)
  }
  // What only later releases write: an nfacct match (1.31), the INVALID drop left out (1.29).
  const since: Release[] = []
  if (out.nfacct.ct_state_invalid_dropped_pkts || out.nfacct.localhost_nps_accepted_pkts) since.push(SINCE.nfacct)
  if (out.conntrackTCPBeLiberal) since.push(SINCE.tcpBeLiberal)
  if (since.length > 0) out.releases = (out.releases ?? [...RELEASES]).filter((r) => since.every((s) => atLeast(r as Release, s)))
  return out
}

function detectorText(d: DetectorSeen | undefined): string | undefined {
  if (!d) return undefined
  switch (d.kind) {
    case 'cidr':
      return `! -s ${d.value} (ClusterCIDR or NodeCIDR)`
    case 'bridge':
      return `! -i ${d.value} (BridgeInterface)`
    case 'prefix':
      return `! -i ${d.value}+ (InterfaceNamePrefix)`
    case 'masqueradeAll':
      return 'masqueradeAll'
    case 'none':
      return 'no detector (detectLocalMode None, or no CIDR for the family)'
  }
}

const FIX: Record<SettingName, string> = {
  masqueradeMark: 'iptables.masqueradeBit (ConfigMap) or proxy.masqueradeBit / masqueradeMark',
  masqueradeRandomFully: "proxy.masqueradeRandomFully (whether the node's iptables has --random-fully)",
  conntrackTCPBeLiberal: 'conntrack.tcpBeLiberal (ConfigMap) or proxy.conntrackTCPBeLiberal (nf_conntrack_tcp_be_liberal on the node)',
  'nfacct.ct_state_invalid_dropped_pkts': 'proxy.nfacct.ct_state_invalid_dropped_pkts (the node has the counter or not; older releases have none)',
  'nfacct.localhost_nps_accepted_pkts': 'proxy.nfacct.localhost_nps_accepted_pkts (the node has the counter or not; older releases have none)',
  localhostNodePorts: 'iptables.localhostNodePorts (ConfigMap) or proxy.localhostNodePorts, and nodePortAddresses',
  localDetector: 'detectLocalMode with clusterCIDR, the Node podCIDRs or detectLocal.{bridgeInterface,interfaceNamePrefix}, or masqueradeAll',
  LoadBalancerIPMode: 'proxy.kubeProxyVersion or featureGates.LoadBalancerIPMode',
}

/** Each setting both sides show and they disagree on: one finding each. */
export function settingMismatches(told: InferredSettings, node: InferredSettings): SettingMismatch[] {
  const out: SettingMismatch[] = []
  const pairs: Array<[SettingName, string | undefined, string | undefined]> = [
    [
      'masqueradeMark',
      told.masqueradeMark && `${told.masqueradeMark}${told.masqueradeBit !== undefined ? ` (bit ${told.masqueradeBit})` : ''}`,
      node.masqueradeMark && `${node.masqueradeMark}${node.masqueradeBit !== undefined ? ` (bit ${node.masqueradeBit})` : ''}`,
    ],
    ['masqueradeRandomFully', str(told.masqueradeRandomFully), str(node.masqueradeRandomFully)],
    ['conntrackTCPBeLiberal', str(told.conntrackTCPBeLiberal), str(node.conntrackTCPBeLiberal)],
    ['nfacct.ct_state_invalid_dropped_pkts', str(told.nfacct.ct_state_invalid_dropped_pkts), str(node.nfacct.ct_state_invalid_dropped_pkts)],
    ['nfacct.localhost_nps_accepted_pkts', str(told.nfacct.localhost_nps_accepted_pkts), str(node.nfacct.localhost_nps_accepted_pkts)],
    ['localhostNodePorts', str(told.localhostNodePorts), str(node.localhostNodePorts)],
    ['localDetector', detectorText(told.localDetector), detectorText(node.localDetector)],
    [
      'LoadBalancerIPMode',
      str(told.loadBalancerIPMode),
      node.loadBalancerIPMode === undefined
        ? undefined
        : `${String(node.loadBalancerIPMode)} (releases with that default: ${node.releases!.join(', ') || 'none'})`,
    ],
  ]
  for (const [setting, t, n] of pairs) {
    if (t === undefined || n === undefined) continue
    const same = setting === 'LoadBalancerIPMode' ? told.loadBalancerIPMode === node.loadBalancerIPMode : t === n
    if (same) continue
    const evidence = node.evidence[setting] ?? told.evidence[setting]
    out.push({ setting, told: t, node: n, ...(evidence ? { evidence } : {}), fix: FIX[setting] })
  }
  return out
}

const str = (b: boolean | undefined): string | undefined => (b === undefined ? undefined : String(b))

/**
 * A rule's canonical text with what the mismatched settings put in it taken out, on both sides
 * alike, so that the chains are compared on what remains; null: a rule that exists only because
 * of such a setting (dropped from the comparison). The mismatch itself is the finding.
 */
export interface Neutraliser {
  rule(table: string, chain: string, canonical: string): string | null
  /** A whole chain that exists only because of a mismatched setting (KUBE-FIREWALL with localhost NodePorts). */
  skipChain(table: string, chain: string): boolean
}

export function neutraliser(
  mismatches: readonly SettingMismatch[],
  told: InferredSettings,
  node: InferredSettings,
  proxyIngressIPs: readonly string[] = [],
): Neutraliser | null {
  if (mismatches.length === 0) return null
  const has = new Set(mismatches.map((m) => m.setting))
  const marks = [told.masqueradeMark, node.masqueradeMark].filter((m): m is string => m !== undefined)
  const markRe = has.has('masqueradeMark') && marks.length ? new RegExp(`\\b(?:${marks.join('|')})\\b`, 'g') : null
  const noDetector = has.has('localDetector') && (told.localDetector?.kind === 'none' || node.localDetector?.kind === 'none')
  const proxyIPs = has.has('LoadBalancerIPMode') ? proxyIngressIPs.map((ip) => (ip.includes('/') ? ip : `${ip}/${told.family === 'IPv4' ? 32 : 128}`)) : []
  const skipChain = (table: string, chain: string): boolean => has.has('localhostNodePorts') && table === 'filter' && chain === 'KUBE-FIREWALL'
  const rule = (table: string, chain: string, c: string): string | null => {
    let r = c
    // The rules of a Proxy-mode ingress IP exist on one side only.
    if (proxyIPs.some((ip) => r.includes(` -d ${ip} `) || r.includes(` -s ${ip} `))) return null
    if (markRe) r = r.replace(markRe, 'MARK')
    if (has.has('masqueradeRandomFully')) r = r.replace(' --random-fully', '')
    if (table === 'filter' && chain === 'KUBE-FORWARD' && r.includes('--ctstate INVALID')) {
      if (has.has('conntrackTCPBeLiberal')) return null
      if (has.has('nfacct.ct_state_invalid_dropped_pkts')) r = r.replace(' -m nfacct --nfacct-name ct_state_invalid_dropped_pkts', '')
    }
    if (
      table === 'nat' &&
      chain === 'KUBE-NODEPORTS' &&
      (has.has('nfacct.localhost_nps_accepted_pkts') || has.has('localhostNodePorts')) &&
      r.includes('localhost_nps_accepted_pkts')
    )
      return null
    if (has.has('localhostNodePorts')) {
      if (table === 'nat' && chain === 'KUBE-SERVICES' && r.includes('must be the last rule')) r = r.replace(' ! -d 127.0.0.0/8', '')
      if (table === 'filter' && chain === 'KUBE-FIREWALL') return null
    }
    if (has.has('localDetector') && table === 'nat') {
      if (SERVICE_CHAIN.test(chain) && r.endsWith(' -j KUBE-MARK-MASQ') && r.includes(' cluster IP"')) {
        if (noDetector) return null
        r = r.replace(/ ! -[si] \S+/, '')
      } else if (EXT_CHAIN.test(chain) && r.includes('"pod traffic for ')) {
        if (noDetector) return null
        r = r.replace(/ -[si] \S+/, ' LOCAL')
      }
    }
    return r
  }
  return { rule, skipChain }
}

/** The snapshot's load-balancer ingress IPs with `ipMode: Proxy`: where LoadBalancerIPMode shows. */
export function proxyModeIngressIPs(items: readonly Record<string, unknown>[]): string[] {
  const out: string[] = []
  for (const o of items) {
    if (o.kind !== 'Service') continue
    const ingress = (o as { status?: { loadBalancer?: { ingress?: Array<{ ip?: string; ipMode?: string }> } } }).status?.loadBalancer?.ingress ?? []
    for (const ing of ingress) if (ing.ip && ing.ipMode === 'Proxy') out.push(ing.ip)
  }
  return out
}
