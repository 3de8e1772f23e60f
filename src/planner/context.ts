/**
 * Per-family settings derived from a node's kube-proxy settings: the values kube-proxy's proxier
 * holds (mark string, local detector, effective localhostNodePorts, node-port addresses...).
 */
import type { Family } from './types.js'
import type { NodeConfig } from './kube/settings.js'
import { atLeast, SINCE } from './kube/releases.js'
import { cidrContains, isLoopback, isZeroCIDR, parseCIDRSloppy, parseIPSloppy, type ParsedCIDR, type ParsedIP } from './kube/ip.js'

export interface FamilyContext {
  family: Family
  nodeName: string
  zone: string
  /** `--mark` value: masqueradeMark verbatim, else Go `%#08x` of 1<<bit (`0x00004000`). */
  mark: string
  masqueradeAll: boolean
  /**
   * The local-traffic detector's word, matched by `localFlag`: IfLocal is `FLAG WORD`, IfNotLocal
   * `! FLAG WORD` (pkg/proxy/util/localdetector.go). ClusterCIDR: the cluster CIDR of the family;
   * NodeCIDR: the node's pod CIDR of the family, or LOCAL_CIDR when planning for many nodes at
   * once (both `-s`, NewDetectLocalByCIDR); BridgeInterface: the bridge's name
   * (NewDetectLocalByBridgeInterface); InterfaceNamePrefix: the prefix and `+`
   * (NewDetectLocalByInterfaceNamePrefix; both `-i`). Null when no detector is implemented
   * (NewNoOpLocalDetector).
   */
  localCIDR: string | null
  localFlag: '-s' | '-i'
  /** Effective: forced off for IPv6 and when nodePortAddresses excludes 127.0.0.1. */
  localhostNodePorts: boolean
  /** `-m nfacct` on the INVALID drop rule: the node has ct_state_invalid_dropped_pkts. */
  nfacctInvalid: boolean
  /** `-m nfacct` localhost NodePort rules: the node has localhost_nps_accepted_pkts. */
  nfacctLocalhost: boolean
  randomFully: boolean
  tcpBeLiberal: boolean
  primaryIP: ParsedIP | null
  /** nodePortAddresses matches every address (no CIDR of this family, or a zero CIDR). */
  nodePortMatchAll: boolean
  /** When not match-all: node addresses the KUBE-NODEPORTS jump is restricted to. */
  nodePortIPs: string[]
  /**
   * Feature gates that change which endpoints are chosen (topology.ts categorize): node hints
   * (PreferSameTrafficDistribution) and zone hints (TopologyAwareHints) are honoured; and whether
   * ipMode is read (LoadBalancerIPMode), here so that a gate change is a context change.
   */
  nodeHints: boolean
  zoneHints: boolean
  lbIPMode: boolean
  /** Comment text on dispatch/endpoint rules; false in large-cluster mode. */
  comments: boolean
  loopbackCIDR: string
}

/** RFC 5735's 127.0.0.0/8 starts here (nodeport_addresses.go ipv4LoopbackStart). */
const V4_LOOPBACK_START = parseIPSloppy('127.0.0.0')!

/** Go's fmt.Sprintf("%#08x", 1<<bit): the digits are zero-padded to 8, then `0x` prepended. */
export function markFromBit(bit: number): string {
  return '0x' + (2 ** bit).toString(16).padStart(8, '0')
}

function familyOf(s: string): Family | null {
  return parseIPSloppy(s.split('/')[0]!)?.family ?? null
}

/**
 * What the segments of many nodes hold in place of the NodeCIDR detector's CIDR, each node's own
 * pod CIDR being put in when its plan is read (plan.ts familyPlanOf). A control character, which
 * no word of the input can hold (src/planner/iptables/words.ts).
 */
export const LOCAL_CIDR = '\u0001'

export function clusterCIDRs(cfg: NodeConfig): string[] {
  return cfg.clusterCIDR
}

/** The detector's CIDR of the family, or null when there is none (a no-op detector). */
function detectorCIDR(cfg: NodeConfig, family: Family): string | null {
  if (cfg.detectLocalMode === 'ClusterCIDR') return clusterCIDRs(cfg).find((c) => familyOf(c) === family) ?? null
  if (cfg.detectLocalMode === 'NodeCIDR') return cfg.podCIDRs.find((c) => familyOf(c) === family) ?? null
  // The interface detectors are the same for both families (cmd/kube-proxy/app/server_linux.go
  // getLocalDetectors); resolveNodes has refused a mode without its parameter.
  if (cfg.detectLocalMode === 'BridgeInterface') return cfg.bridgeInterface || null
  if (cfg.detectLocalMode === 'InterfaceNamePrefix') return cfg.interfaceNamePrefix ? `${cfg.interfaceNamePrefix}+` : null
  return null
}

/** `-i` for the interface detectors, `-s` for the CIDR ones. */
export function detectorFlag(mode: NodeConfig['detectLocalMode']): '-s' | '-i' {
  return mode === 'BridgeInterface' || mode === 'InterfaceNamePrefix' ? '-i' : '-s'
}

/**
 * Families the node runs, in plan order (IPv4 first): `ipFamilies` if given; else the families
 * of clusterCIDR; else the family of the first node IP; else IPv4.
 */
export function nodeFamilies(cfg: NodeConfig): Family[] {
  let fams: Family[]
  if (cfg.ipFamilies) fams = cfg.ipFamilies
  else {
    const fromCIDR = clusterCIDRs(cfg)
      .map(familyOf)
      .filter((f): f is Family => f !== null)
    if (fromCIDR.length > 0) fams = fromCIDR
    else {
      const first = cfg.nodeIPs[0] ? familyOf(cfg.nodeIPs[0]) : null
      fams = [first ?? 'IPv4']
    }
  }
  return (['IPv4', 'IPv6'] as const).filter((f) => fams.includes(f))
}

/** `primary` expands to the primary IP of each family as /32 and /128 (cmd/kube-proxy/app/server.go). */
function nodePortCIDRs(cfg: NodeConfig, nodeIPs: ParsedIP[]): ParsedCIDR[] {
  let list = cfg.nodePortAddresses
  if (list.length === 1 && list[0] === 'primary') {
    list = []
    for (const fam of ['IPv4', 'IPv6'] as const) {
      const p = nodeIPs.find((ip) => ip.family === fam && !isLoopback(ip))
      if (p) list.push(`${p.text}/${fam === 'IPv4' ? 32 : 128}`)
    }
  }
  return list.map((s) => parseCIDRSloppy(s.trim())).filter((c): c is ParsedCIDR => c !== null)
}

/**
 * The family's context for the node `cfg` describes. `manyNodes`: for segments shared by many
 * nodes, whose NodeCIDR detector CIDR is then LOCAL_CIDR.
 */
export function familyContext(cfg: NodeConfig, family: Family, largeCluster: boolean, manyNodes = false): FamilyContext {
  const nodeIPs = cfg.nodeIPs.map((s) => parseIPSloppy(s)).filter((p): p is ParsedIP => p !== null)
  // NewNodePortAddresses (pkg/proxy/util/nodeport_addresses.go) keeps only the CIDRs of the
  // family planned (none left: all addresses), and only then asks whether one holds IPv4
  // loopback: its network address is loopback, or it contains 127.0.0.0.
  const famCIDRs = nodePortCIDRs(cfg, nodeIPs).filter((c) => c.family === family)
  const matchAll = famCIDRs.length === 0 || famCIDRs.some(isZeroCIDR)
  const containsV4Loopback =
    family === 'IPv4' && (matchAll || famCIDRs.some((c) => isLoopback(parseIPSloppy(c.text.split('/')[0]!)!) || cidrContains(c, V4_LOOPBACK_START)))
  const localhostNodePorts = family === 'IPv4' && cfg.localhostNodePorts && containsV4Loopback
  const detector = detectorCIDR(cfg, family)
  // The node's interface addresses: its configured IPs plus loopback (GetNodeIPs walks every interface).
  const loopback = parseIPSloppy(family === 'IPv4' ? '127.0.0.1' : '::1')!
  const ifaceIPs = [loopback, ...nodeIPs.filter((ip) => ip.family === family)]
  const seen = new Set<string>()
  const nodePortIPs: string[] = []
  if (!matchAll) {
    for (const ip of ifaceIPs) {
      if (isLoopback(ip) && (family === 'IPv6' || !localhostNodePorts)) continue
      if (!famCIDRs.some((c) => cidrContains(c, ip)) || seen.has(ip.text)) continue
      seen.add(ip.text)
      nodePortIPs.push(ip.text)
    }
  }
  return {
    family,
    nodeName: cfg.nodeName,
    zone: cfg.zone ?? '',
    mark: cfg.masqueradeMark ?? markFromBit(cfg.masqueradeBit),
    masqueradeAll: cfg.masqueradeAll,
    localCIDR: manyNodes && cfg.detectLocalMode === 'NodeCIDR' && detector !== null ? LOCAL_CIDR : detector,
    localFlag: detectorFlag(cfg.detectLocalMode),
    localhostNodePorts,
    // A release before the counters writes no nfacct match, whatever the node has.
    nfacctInvalid: cfg.nfacct.ct_state_invalid_dropped_pkts && atLeast(cfg.kubeProxyVersion, SINCE.nfacct),
    nfacctLocalhost: cfg.nfacct.localhost_nps_accepted_pkts && atLeast(cfg.kubeProxyVersion, SINCE.nfacct),
    randomFully: cfg.masqueradeRandomFully,
    // Before 1.29 the INVALID drop is written whatever the sysctl says.
    tcpBeLiberal: cfg.conntrackTCPBeLiberal && atLeast(cfg.kubeProxyVersion, SINCE.tcpBeLiberal),
    primaryIP: nodeIPs.find((ip) => ip.family === family) ?? null,
    nodePortMatchAll: matchAll,
    nodePortIPs,
    nodeHints: cfg.gates.PreferSameTrafficDistribution,
    zoneHints: cfg.gates.TopologyAwareHints,
    lbIPMode: cfg.gates.LoadBalancerIPMode,
    comments: !largeCluster,
    loopbackCIDR: family === 'IPv4' ? '127.0.0.0/8' : '::1/128',
  }
}
