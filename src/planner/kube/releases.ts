/**
 * kube-proxy releases natplan plans for, and the feature gates that change its iptables rules.
 *
 * Each gate's defaults per release are upstream's versioned feature specs
 * (pkg/features/kube_features.go defaultVersionedKubernetesFeatureGates: `{Version, Default,
 * PreRelease, LockToDefault}` from the release each stage began). What each gate changes, and
 * which differences between releases could not be established from upstream's source, is in
 * docs/releases.md.
 */

/** The minor releases accepted for `kubeProxyVersion`, oldest first; the last is the default. */
export const RELEASES = ['1.28', '1.29', '1.30', '1.31', '1.32', '1.33', '1.34', '1.35', '1.36', '1.37'] as const
export type Release = (typeof RELEASES)[number]
export const CURRENT_RELEASE: Release = RELEASES[RELEASES.length - 1]!

/**
 * One stage of a gate: from `since` on, its default, and whether it can be changed. `Removed`:
 * the gate is gone from the release's feature list (kube-proxy refuses it); its code path is the
 * GA one for good.
 */
interface Stage {
  since: Release
  default: boolean
  stage: 'Alpha' | 'Beta' | 'GA' | 'Removed'
  locked?: boolean
}

/**
 * The gates kube-proxy's iptables mode reads that change its rules (their readers in
 * docs/releases.md), with their stages from kube_features.go. A release before a gate's first
 * stage does not know the gate (kube-proxy refuses it: "unrecognized feature gate").
 */
export const GATES = {
  /** pkg/proxy/util/utils.go IsVIPMode: off, every load-balancer ingress IP is a VIP (ipMode ignored). */
  LoadBalancerIPMode: [
    { since: '1.29', default: false, stage: 'Alpha' },
    { since: '1.30', default: true, stage: 'Beta' },
    { since: '1.32', default: true, stage: 'GA', locked: true },
    // Absent from a 1.36-development feature list (which lists gates going GA in 1.36).
    { since: '1.36', default: true, stage: 'Removed' },
  ],
  /** pkg/proxy/endpointslicecache.go (forNodes read only when on) and topology.go topologyModeFromHints (PreferSameNode). */
  PreferSameTrafficDistribution: [
    { since: '1.33', default: false, stage: 'Alpha' },
    { since: '1.34', default: true, stage: 'Beta' },
    { since: '1.35', default: true, stage: 'GA', locked: true },
  ],
  /** An older pkg/proxy/topology.go canUseTopology: off, zone hints are ignored. */
  TopologyAwareHints: [
    { since: '1.28', default: true, stage: 'Beta' },
    { since: '1.33', default: true, stage: 'GA', locked: true },
  ],
} as const satisfies Record<string, readonly Stage[]>
export type GateName = keyof typeof GATES
export const GATE_NAMES = Object.keys(GATES) as GateName[]
export type Gates = Record<GateName, boolean>

function minor(r: string): number {
  return Number(r.split('.')[1])
}

/** `release` is `since` or later. */
export function atLeast(release: Release, since: Release): boolean {
  return minor(release) >= minor(since)
}

/**
 * Rule changes between releases that upstream's CHANGELOG establishes (docs/releases.md):
 * the release each first shipped in.
 */
export const SINCE = {
  /** `conntrack.tcpBeLiberal`: the INVALID drop left out when nf_conntrack_tcp_be_liberal is set (#120354, v1.29.0 notes). */
  tcpBeLiberal: '1.29',
  /** The nfacct counters ct_state_invalid_dropped_pkts (#122812) and localhost_nps_accepted_pkts (#125015), v1.31.0 notes. */
  nfacct: '1.31',
} as const satisfies Record<string, Release>

/** The gate's stage in `release`, or null when the release does not know it. */
export function stageOf(gate: GateName, release: Release): Stage | null {
  let out: Stage | null = null
  for (const s of GATES[gate] as readonly Stage[]) if (minor(s.since) <= minor(release)) out = s
  return out
}

export function isRelease(v: unknown): v is Release {
  return typeof v === 'string' && (RELEASES as readonly string[]).includes(v)
}

/** `1.31`, `v1.31`, `1.31.4`, `v1.31.4-eks.1`: the minor release, as `1.31`. */
export function releaseOf(v: string): string {
  const m = /^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?$/.exec(v.trim())
  return m ? `${Number(m[1])}.${Number(m[2])}` : v
}

export interface GateIssue {
  gate: string
  detail: string
  /** A gate natplan does not know: an error in the envelope, a warning in a ConfigMap. */
  unknown: boolean
}

/**
 * The gates of `release` with `given` over its defaults, and what is wrong with `given`: a gate
 * natplan does not know, one the release does not have, or a locked one set against its default
 * (kube-proxy refuses to start then).
 */
export function resolveGates(release: Release, given: Readonly<Record<string, boolean>>): { gates: Gates; issues: GateIssue[] } {
  const gates = {} as Gates
  const issues: GateIssue[] = []
  for (const g of GATE_NAMES) gates[g] = stageOf(g, release)?.default ?? false
  for (const [name, value] of Object.entries(given)) {
    if (!(GATE_NAMES as string[]).includes(name)) {
      issues.push({
        gate: name,
        unknown: true,
        detail: `natplan knows no feature gate ${name} that changes kube-proxy's iptables rules (accepted: ${GATE_NAMES.join(', ')})`,
      })
      continue
    }
    const stage = stageOf(name as GateName, release)
    if (!stage) {
      issues.push({
        gate: name,
        unknown: false,
        detail: `kube-proxy ${release} has no feature gate ${name} (it came in ${GATES[name as GateName][0]!.since}) and refuses to start with it`,
      })
      continue
    }
    if (stage.stage === 'Removed') {
      issues.push({
        gate: name,
        unknown: false,
        detail: `kube-proxy ${release} has no feature gate ${name} any more (removed after going GA; its behaviour, ${String(stage.default)}, is fixed) and refuses to start with it`,
      })
      continue
    }
    if (stage.locked && value !== stage.default) {
      issues.push({
        gate: name,
        unknown: false,
        detail: `${name} is GA and locked to ${String(stage.default)} in kube-proxy ${release} (since ${stage.since}); kube-proxy refuses to start with ${name}=${String(value)}`,
      })
      continue
    }
    gates[name as GateName] = value
  }
  return { gates, issues }
}
