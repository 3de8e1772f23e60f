/**
 * Choosing endpoints: a paraphrase of CategorizeEndpoints (pkg/proxy/topology.go).
 * Traffic policies, topology hints, and the serving+terminating fallback.
 */
import { compareIds, idOf, type Endpoint, type ServicePort } from './model.js'

export interface Categorized {
  clusterEndpoints: Endpoint[]
  localEndpoints: Endpoint[]
  allReachable: Endpoint[]
  hasEndpoints: boolean
}

export function externallyAccessible(sp: ServicePort): boolean {
  return sp.nodePort !== 0 || sp.lbVIPs.length > 0 || sp.externalIPs.length > 0
}
export function usesClusterEndpoints(sp: ServicePort): boolean {
  return !sp.internalPolicyLocal || externallyAccessible(sp)
}
export function usesLocalEndpoints(sp: ServicePort): boolean {
  return sp.internalPolicyLocal || (sp.externalPolicyLocal && externallyAccessible(sp))
}

type Mode = 'node' | 'zone' | ''

/** Which hints the node's kube-proxy reads (its feature gates: kube/releases.ts). */
export interface HintGates {
  /** PreferSameTrafficDistribution: endpointslicecache.go reads forNodes only when it is on. */
  nodeHints: boolean
  /** TopologyAwareHints: an older topology.go canUseTopology ignored zone hints when it was off. */
  zoneHints: boolean
}
const ALL_HINTS: HintGates = { nodeHints: true, zoneHints: true }

/** Hints are honoured only when every READY endpoint carries them and one names us. */
function topologyMode(eps: Endpoint[], nodeName: string, zone: string, gates: HintGates): Mode {
  let allNode = true
  let forNode = false
  let allZone = true
  let forZone = false
  for (const e of eps) {
    if (!e.ready) continue
    if (!e.nodeHints) allNode = false
    else if (e.nodeHints.includes(nodeName)) forNode = true
    if (!e.zoneHints) allZone = false
    else if (zone !== '' && e.zoneHints.includes(zone)) forZone = true
  }
  // topologyModeFromHints: node hints only with PreferSameTrafficDistribution on.
  if (gates.nodeHints && allNode && forNode) return 'node'
  if (gates.zoneHints && allZone && forZone) return 'zone'
  return ''
}

function availableFor(e: Endpoint, mode: Mode, nodeName: string, zone: string): boolean {
  if (mode === 'node') return !!e.nodeHints?.includes(nodeName)
  if (mode === 'zone') return !!e.zoneHints?.includes(zone)
  return true
}

const servingTerminating = (e: Endpoint): boolean => e.serving && e.terminating
const isReady = (e: Endpoint): boolean => e.ready

export function categorize(sp: ServicePort, eps: Endpoint[], nodeName: string, zone: string, gates: HintGates = ALL_HINTS): Categorized {
  let clusterEndpoints: Endpoint[] = []
  let hasEndpoints = false
  let mode: Mode = ''
  if (usesClusterEndpoints(sp)) {
    mode = topologyMode(eps, nodeName, zone, gates)
    // The common case, every endpoint ready and no hints in force, keeps the list as it is.
    clusterEndpoints = mode === '' && eps.every(isReady) ? eps : eps.filter((e) => e.ready && availableFor(e, mode, nodeName, zone))
    if (clusterEndpoints.length === 0) clusterEndpoints = eps.filter(servingTerminating)
    hasEndpoints = clusterEndpoints.length > 0
  }
  if (!usesLocalEndpoints(sp)) return { clusterEndpoints, localEndpoints: [], allReachable: clusterEndpoints, hasEndpoints }

  let localReady = false
  let localServingTerminating = false
  const isLocal = (e: Endpoint): boolean => e.nodeName !== '' && e.nodeName === nodeName
  for (const e of eps) {
    if (e.ready) hasEndpoints = true
    else if (servingTerminating(e)) hasEndpoints = true
    if (isLocal(e)) {
      if (e.ready) localReady = true
      else if (servingTerminating(e)) localServingTerminating = true
    }
  }
  let localEndpoints: Endpoint[] = []
  let usedTerminating = false
  if (localReady) localEndpoints = eps.filter((e) => isLocal(e) && e.ready)
  else if (localServingTerminating) {
    usedTerminating = true
    localEndpoints = eps.filter((e) => isLocal(e) && servingTerminating(e))
  }
  if (!usesClusterEndpoints(sp)) return { clusterEndpoints, localEndpoints, allReachable: localEndpoints, hasEndpoints }
  if (mode === '' && !usedTerminating) return { clusterEndpoints, localEndpoints, allReachable: clusterEndpoints, hasEndpoints }
  // Upstream builds the union from a map (random order); we keep identity order.
  const union = new Map<string, Endpoint>()
  for (const e of clusterEndpoints) union.set(idOf(e), e)
  for (const e of localEndpoints) union.set(idOf(e), e)
  const allReachable = [...union.values()].sort(compareIds)
  return { clusterEndpoints, localEndpoints, allReachable, hasEndpoints }
}

/**
 * The nodes whose rules for this port may differ from those of a node that holds none of its
 * endpoints, is named by no hint and lies in no hinted zone (such a node's rules are the port's
 * shared rules, plan.ts): categorize reads the node's name only to find local endpoints and node
 * hints, and its zone only for zone hints. A superset is harmless (plan.ts keeps a node's own
 * rules only where they differ).
 */
export function nodesReading(sp: ServicePort, eps: readonly Endpoint[], nodesInZone: (zone: string) => readonly string[]): Set<string> | null {
  let out: Set<string> | null = null
  const add = (n: string): void => {
    if (n !== '') (out ??= new Set()).add(n)
  }
  if (usesLocalEndpoints(sp)) for (const e of eps) add(e.nodeName)
  if (usesClusterEndpoints(sp)) {
    for (const e of eps) {
      if (!e.ready) continue
      if (e.nodeHints) for (const n of e.nodeHints) add(n)
      if (e.zoneHints) for (const z of e.zoneHints) for (const n of nodesInZone(z)) add(n)
    }
  }
  return out
}
