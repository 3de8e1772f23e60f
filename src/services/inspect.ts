/**
 * Inspecting one stored version: a packet trace through its plan, a drift check of a node's
 * live `iptables-save` dump against it, and a cleanup report (services that cannot be reached,
 * traffic policies that drop).
 *
 * All three read the stored plan through the use-case layer (services.getPlan) and hand it to the
 * pure analysis functions (src/planner/analysis: trace, drift) — one parser serves both, as
 * knftables' fake does for kube-proxy's tests.
 */
import { BadRequestError } from '../errors.js'
import { drift as driftOf, type DriftReport } from '../planner/analysis/drift.js'
import { proxyModeIngressIPs } from '../planner/analysis/settings.js'
import { trace as traceOf, type TracePacket } from '../planner/analysis/trace.js'
import { segmentLines, type Family, type FamilyPlan, type Plan, type Segment } from '../planner/types.js'
import { nodeConfig, type Envelope } from '../planner/index.js'
import type { Services } from './contract.js'
import type { CleanupItem, CleanupKind, InspectServices } from './inspect-types.js'
import type { DriftCheckRow } from '../store/drift-checks.js'

export type * from './inspect-types.js'

type Reader = Pick<Services, 'getVersion' | 'getPlan' | 'getSnapshot'>

function familyOfAddress(ip: string): Family | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) return 'IPv4'
  if (ip.includes(':')) return 'IPv6'
  return undefined
}

function pickFamily(plan: Plan, family: Family | undefined, pointer: string): FamilyPlan {
  if (!family) return plan.families[0]!
  const fp = plan.families.find((f) => f.family === family)
  if (!fp) {
    const have = plan.families.map((f) => f.family).join(', ') || 'none'
    throw new BadRequestError(`this version has no ${family} plan (families: ${have})`, [{ pointer, detail: `no ${family} plan in this version` }])
  }
  return fp
}

/** The node's addresses, as the planner resolved them (its Node object's, or the envelope's). */
async function nodeIPsOf(reader: Reader, cluster: string, version: number, node?: string): Promise<string[]> {
  const env = (await reader.getSnapshot(cluster, version)) as unknown as Envelope
  return nodeConfig(env, node)?.nodeIPs ?? []
}

/**
 * What a rule of a service segment says about dropped traffic, from kube-proxy's own comments
 * (pkg/proxy/iptables/proxier.go; reference §7): `"S has no endpoints"` → REJECT,
 * `"S has no local endpoints"` → DROP (traffic policy Local without a local endpoint),
 * `"S traffic not accepted by FW"` / `"other traffic to S will be dropped by KUBE-PROXY-FIREWALL"`
 * → loadBalancerSourceRanges.
 */
function dropKind(rule: string): CleanupKind | undefined {
  if (/ has no endpoints"/.test(rule) && / -j REJECT\b/.test(rule)) return 'no-endpoints'
  if (/ has no local endpoints"/.test(rule) && / -j DROP\b/.test(rule)) return 'no-local-endpoints'
  if (/ traffic not accepted by FW"/.test(rule) && / -j DROP\b/.test(rule)) return 'firewall-drops'
  return undefined
}

const DETAIL: Record<CleanupKind, string> = {
  'no-endpoints': 'no usable endpoint: new connections are rejected (ICMP port unreachable)',
  'only-terminating-endpoints':
    "no ready endpoint: traffic goes only to serving-but-terminating endpoints (kube-proxy's fallback) and stops when they are gone",
  'no-local-endpoints': 'traffic policy Local and no endpoint on this node: that traffic is dropped here',
  'firewall-drops': 'loadBalancerSourceRanges: traffic from other sources is dropped',
}

export function cleanupOfSegment(seg: Segment, family: Family): CleanupItem[] {
  if (!seg.service) return []
  const byKind = new Map<CleanupKind, string[]>()
  for (const rule of [...segmentLines(seg, 'filterRules'), ...segmentLines(seg, 'natRules')]) {
    const kind = dropKind(rule)
    if (kind) byKind.set(kind, [...(byKind.get(kind) ?? []), rule])
  }
  const eps = seg.meta?.endpoints
  if (eps && eps.ready === 0 && eps.serving > 0 && eps.terminating > 0 && !byKind.has('no-endpoints')) {
    byKind.set('only-terminating-endpoints', [])
  }
  return [...byKind].map(([kind, rules]) => ({
    kind,
    service: seg.service!,
    ...(seg.protocol ? { protocol: seg.protocol } : {}),
    family,
    detail: DETAIL[kind],
    rules,
    ...(eps ? { endpoints: { ...eps } } : {}),
  }))
}

export function cleanupOfPlan(plan: Plan): { summary: Record<CleanupKind, number>; items: CleanupItem[] } {
  const items = plan.families.flatMap((fp) => fp.segments.flatMap((seg) => cleanupOfSegment(seg, fp.family)))
  const summary: Record<CleanupKind, number> = { 'no-endpoints': 0, 'only-terminating-endpoints': 0, 'no-local-endpoints': 0, 'firewall-drops': 0 }
  for (const item of items) summary[item.kind] += 1
  return { summary, items }
}

/**
 * `recordDrift`: keeps each node's last check (store/drift-checks.ts) for /metrics' drift
 * gauges; a check is recorded once its report is complete.
 */
export function createInspectServices(reader: Reader, recordDrift?: (row: DriftCheckRow) => Promise<void>): InspectServices {
  return {
    async trace(cluster, ref, request, node) {
      const meta = await reader.getVersion(cluster, ref)
      const plan = await reader.getPlan(cluster, meta.version, node)
      const family = familyOfAddress(request.destination)
      if (!family) throw new BadRequestError('invalid trace request', [{ pointer: '/destination', detail: 'must be an IPv4 or IPv6 address' }])
      const fp = pickFamily(plan, family, '/destination')
      const nodeAddresses = request.nodeAddresses ?? (await nodeIPsOf(reader, cluster, meta.version, node))
      const packet: TracePacket = { source: request.source, destination: request.destination, port: request.port, protocol: request.protocol }
      const result = traceOf(fp, packet, nodeAddresses)
      return { cluster: meta.cluster, version: meta.version, family: fp.family, packet, nodeAddresses, ...result }
    },

    async drift(cluster, ref, saveText, opts = {}) {
      if (!/^\*(nat|filter|mangle|raw|security)\s*$/m.test(saveText)) {
        throw new BadRequestError('the body is not iptables-save output (no "*nat" or "*filter" table header)', [
          { pointer: '', detail: 'expected iptables-save text with at least one *table section' },
        ])
      }
      const meta = await reader.getVersion(cluster, ref)
      const plan = await reader.getPlan(cluster, meta.version, opts.node)
      const fp = pickFamily(plan, opts.family ?? guessFamily(saveText), '/family')
      // Settings show in the node's rules; LoadBalancerIPMode only on the snapshot's Proxy-mode ingress IPs.
      const env = (await reader.getSnapshot(cluster, meta.version)) as unknown as Envelope
      const proxyIngressIPs = proxyModeIngressIPs(env.resources.items as Record<string, unknown>[])
      let report: DriftReport
      try {
        report = driftOf(fp, saveText, { proxyIngressIPs })
      } catch (err) {
        // A line the parser cannot read is the client's dump, not our bug.
        throw new BadRequestError(`cannot parse the iptables-save text: ${(err as Error).message}`, [{ pointer: '', detail: (err as Error).message }])
      }
      await recordDrift?.({
        cluster: meta.cluster,
        // getPlan answered, so the node is named or is the version's one node.
        node: opts.node ?? nodeConfig(env)?.nodeName ?? '',
        family: fp.family,
        version: meta.version,
        checkedAt: new Date(),
        inSync: report.inSync,
        summary: report.summary,
      })
      return { cluster: meta.cluster, version: meta.version, ...report }
    },

    async cleanup(cluster, ref, node) {
      const meta = await reader.getVersion(cluster, ref)
      const plan = await reader.getPlan(cluster, meta.version, node)
      return { cluster: meta.cluster, version: meta.version, ...cleanupOfPlan(plan) }
    },
  }
}

/** ip6tables-save prints addresses with `/128` or `:`; an IPv4 dump never has `::`/`/128`. */
function guessFamily(saveText: string): Family | undefined {
  if (/ -[sd] [0-9a-fA-F:]*:[0-9a-fA-F:]*\/\d+/.test(saveText)) return 'IPv6'
  if (/ -[sd] \d{1,3}(\.\d{1,3}){3}\/\d+/.test(saveText)) return 'IPv4'
  return undefined
}
