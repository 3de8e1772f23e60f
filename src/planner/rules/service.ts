/**
 * Rules of one service port (pkg/proxy/iptables/proxier.go syncProxyRules, the per-service
 * loop), one small function per rule family: cluster IP, external IPs, load balancer + firewall,
 * node ports, external-destination chain, dispatch, endpoint chains.
 */
import type { Segment, SegmentStats } from '../types.js'
import type { FamilyContext } from '../context.js'
import { idOf, itemPointer, type Endpoint, type ServicePort } from '../model.js'
import { categorize, externallyAccessible, usesClusterEndpoints, usesLocalEndpoints, type Categorized } from '../topology.js'
import { prefixState, sepHashInto, type PrefixState } from '../iptables/chains.js'
import { probability } from '../iptables/probability.js'
import { cidrContains } from '../kube/ip.js'
import { isSafeChar, safeWord, UnsafeWordError } from '../iptables/words.js'
import { chainLine } from './fixed.js'
import { Ascii, FILTER_RULES, NAT_CHAINS, NAT_RULES, asciiBytes, type Bytes, type SegmentWriter } from './writer.js'

const NEWLINE = 10
const QUOTE = 34

/** Everything the rule writers need about one service port, decided once (§9.1 of the reference). */
interface Decided {
  sp: ServicePort
  ctx: FamilyContext
  cat: Categorized
  w: SegmentWriter
  /** servicePortName + protocol, the prefix of every chain-name hash of this port, and its SHA-256 midstate. */
  hashPrefix: string
  hashState: PrefixState | null
  /** `-m p -p p` */
  proto: string
  /** Chain names; SVL, EXT and FW are '' when no rule of this port names them. */
  svc: string
  svl: string
  ext: string
  fw: string
  internalChain: string
  externalChain: string
  hasInternal: boolean
  hasExternal: boolean
  usesEXT: boolean
  usesFW: boolean
  /** Filter verdict + quoted comment for unusable internal / external traffic. */
  internalVerdict: string
  externalVerdict: string
  internalComment: string
  externalComment: string
}

const PROTO = { tcp: '-m tcp -p tcp', udp: '-m udp -p udp', sctp: '-m sctp -p sctp' } as const
/** The DNAT of an endpoint chain, after the comment (and the affinity `--set`). */
const TO_DESTINATION = {
  tcp: ' -m tcp -p tcp -j DNAT --to-destination ',
  udp: ' -m udp -p udp -j DNAT --to-destination ',
  sctp: ' -m sctp -p sctp -j DNAT --to-destination ',
} as const

/**
 * The endpoint chain names of the service port being written, `KUBE-SEP-` and 16 base32 bytes
 * each (SEP_BYTES; Endpoint.sep is the index): hashed once per endpoint, copied into every rule
 * that names the chain. And their `ip:port` identities (ID_BYTES each, `idLength`), read once rather than a
 * character at a time for each of the two or three rules that write them. Scratch memory
 * reused by every port (the planner is synchronous).
 */
let names = new Ascii(new Uint8Array(0))
let ids = new Ascii(new Uint8Array(0))
let idLength = new Int32Array(0)
const SEP_BYTES = 25
/** `[` + the longest IPv6 text (45, IPv4-mapped) + `]:65535` fits. */
const ID_BYTES = 64

/** Names every endpoint a rule of this port names (allReachable: see categorize). */
function nameEndpoints(d: Decided): void {
  const eps = d.cat.allReachable
  if (idLength.length < eps.length) {
    const n = Math.max(eps.length, 256)
    names = new Ascii(new Uint8Array(SEP_BYTES * n))
    for (let at = 0; at < names.bytes.length; at += SEP_BYTES) names.bytes.set(KUBE_SEP.bytes, at)
    ids = new Ascii(new Uint8Array(ID_BYTES * n))
    idLength = new Int32Array(n)
  }
  for (let i = 0; i < eps.length; i++) {
    const e = eps[i]!
    sepHashInto(d.hashState, d.hashPrefix, e.pre, e.ip, e.post, names.bytes, SEP_BYTES * i + KUBE_SEP.bytes.length)
    e.sep = i
    idLength[i] = idInto(e, ID_BYTES * i)
  }
}

/**
 * Writes the endpoint's identity into `ids` at `at` and returns its length; an identity that is
 * not a safe word (src/planner/iptables/words.ts) is refused.
 */
function idInto(e: Endpoint, at: number): number {
  const n = e.pre.length + e.ip.length + e.post.length
  if (n > ID_BYTES) throw new UnsafeWordError(idOf(e), 'endpoint address')
  const b = ids.bytes
  const { pre, ip, post } = e
  let p = at
  let ok = true
  for (let i = 0; i < pre.length; i++) ok = isSafeChar((b[p++] = pre.charCodeAt(i))) && ok
  for (let i = 0; i < ip.length; i++) ok = isSafeChar((b[p++] = ip.charCodeAt(i))) && ok
  for (let i = 0; i < post.length; i++) ok = isSafeChar((b[p++] = post.charCodeAt(i))) && ok
  if (!ok) throw new UnsafeWordError(idOf(e), 'endpoint address')
  return n
}

/** The endpoint's chain name. */
function writeSep(t: Bytes, e: Endpoint): void {
  t.putRange(names, SEP_BYTES * e.sep, SEP_BYTES)
}

/** The endpoint's `ip:port` identity, `[ip]:port` for IPv6 (model.ts Endpoint). */
function writeId(t: Bytes, e: Endpoint): void {
  t.putRange(ids, ID_BYTES * e.sep, idLength[e.sep]!)
}

/** The endpoint's address. */
function writeIp(t: Bytes, e: Endpoint): void {
  t.putRange(ids, ID_BYTES * e.sep + e.pre.length, e.ip.length)
}

/** The port's words from the input (src/planner/iptables/words.ts): refused before anything is written. */
function checkWords(sp: ServicePort, ctx: FamilyContext): void {
  const at = itemPointer(sp.item)
  safeWord(sp.name, 'Service port name', `${at}/metadata/name`)
  safeWord(sp.clusterIP, 'cluster IP', `${at}/spec/clusterIP`)
  for (const ip of sp.externalIPs) safeWord(ip, 'external IP', `${at}/spec/externalIPs`)
  for (const ip of sp.lbVIPs) safeWord(ip, 'load-balancer IP', `${at}/status/loadBalancer/ingress`)
  for (const r of sp.sourceRanges) safeWord(r.text, 'source range', `${at}/spec/loadBalancerSourceRanges`)
  if (ctx.localCIDR !== null) safeWord(ctx.localCIDR, 'clusterCIDR', '/proxy/clusterCIDR')
}

function decide(sp: ServicePort, eps: Endpoint[], ctx: FamilyContext, w: SegmentWriter): Decided {
  checkWords(sp, ctx)
  const cat = categorize(sp, eps, ctx.nodeName, ctx.zone)
  const hashPrefix = sp.name + sp.protocol
  const hashState = prefixState(hashPrefix)
  // The SVC chain's name, hashed into PORT_SVC's bytes and made one flat string from them.
  sepHashInto(hashState, hashPrefix, '', '', '', PORT_SVC.bytes, SVC_PREFIX.length)
  const svc = String.fromCharCode.apply(null, PORT_SVC.bytes as unknown as number[])
  const h = svc.slice(SVC_PREFIX.length)
  // The other names and the comments only for the rules that use them ('' otherwise): a
  // ClusterIP port with endpoints, the common case, needs none.
  const svl = sp.internalPolicyLocal || sp.externalPolicyLocal ? `KUBE-SVL-${h}` : ''
  const internalChain = sp.internalPolicyLocal ? svl : svc
  const externalChain = sp.externalPolicyLocal ? svl : svc
  const hasInternal = cat.hasEndpoints && !(sp.internalPolicyLocal && cat.localEndpoints.length === 0)
  const hasExternal = cat.hasEndpoints && !(sp.externalPolicyLocal && cat.localEndpoints.length === 0)
  const accessible = externallyAccessible(sp)
  const usesFW = cat.hasEndpoints && sp.lbVIPs.length > 0 && sp.sourceRanges.length > 0
  const comment = hasInternal && hasExternal ? '' : cat.hasEndpoints ? `"${sp.name} has no local endpoints"` : `"${sp.name} has no endpoints"`
  const verdict = cat.hasEndpoints ? 'DROP' : 'REJECT'
  return {
    sp,
    ctx,
    cat,
    w,
    hashPrefix,
    hashState,
    proto: PROTO[sp.protocol],
    svc,
    svl,
    ext: accessible ? `KUBE-EXT-${h}` : '',
    fw: usesFW ? `KUBE-FW-${h}` : '',
    internalChain,
    externalChain,
    hasInternal,
    hasExternal,
    usesEXT: cat.hasEndpoints && accessible,
    usesFW,
    internalVerdict: verdict,
    externalVerdict: verdict,
    internalComment: comment,
    externalComment: comment,
  }
}

const SVC_PREFIX = 'KUBE-SVC-'
/**
 * The SVC chain name of the port being written (decide fills in its hash), as bytes: the rules
 * that name it copy them. Scratch, like `names`.
 */
const PORT_SVC = asciiBytes(SVC_PREFIX + 'X'.repeat(16))

/** A chain name of this port: the SVC chain from PORT_SVC's bytes, another from its string. */
function writeChain(t: Bytes, d: Decided, chain: string): void {
  if (chain === d.svc) t.put(PORT_SVC)
  else t.add(chain)
}

/** `-m P -p P -d IP --dport PORT`: the match of every rule for traffic to one of the port's addresses. */
function dportMatch(d: Decided, ip: string): string {
  return `${d.proto} -d ${ip} --dport ${d.sp.port}`
}

/**
 * ` -m comment --comment "NAME cluster IP" -m P -p P -d IP --dport PORT`: shared by the cluster-IP
 * jump and the masquerade rule of every service port, so written once, in pieces rather than
 * built as a string, and then copied (CLUSTER_IP slot).
 */
function writeClusterIPMatch(d: Decided, t: Bytes): void {
  if (t.repeat(CLUSTER_IP)) return
  const { sp } = d
  const start = t.length
  t.put(COMMENT_QUOTE)
  t.add(sp.name)
  t.put(CLUSTER_IP_QUOTE)
  t.put(PROTO_BYTES[sp.protocol])
  t.put(DST)
  t.add(sp.clusterIP)
  t.put(DPORT)
  t.add(String(sp.port))
  t.mark(CLUSTER_IP, start)
}

function clusterIPRules(d: Decided): void {
  const { sp } = d
  if (d.hasInternal) {
    const rules = d.w.text(NAT_RULES)
    const start = rules.length
    rules.put(KUBE_SERVICES)
    writeClusterIPMatch(d, rules)
    rules.put(JUMP)
    writeChain(rules, d, d.internalChain)
    rules.byte(NEWLINE)
    d.w.lines(NAT_RULES, 1)
    d.w.natRule(start)
  } else {
    d.w.line(FILTER_RULES, `-A KUBE-SERVICES -m comment --comment ${d.internalComment} ${dportMatch(d, sp.clusterIP)} -j ${d.internalVerdict}`)
  }
}

function externalIPRules(d: Decided): void {
  const { sp } = d
  for (const ip of sp.externalIPs) {
    const match = dportMatch(d, ip)
    if (d.cat.hasEndpoints) d.w.line(NAT_RULES, `-A KUBE-SERVICES -m comment --comment "${sp.name} external IP" ${match} -j ${d.ext}`)
    if (!d.hasExternal) d.w.line(FILTER_RULES, `-A KUBE-EXTERNAL-SERVICES -m comment --comment ${d.externalComment} ${match} -j ${d.externalVerdict}`)
  }
}

function loadBalancerRules(d: Decided): void {
  const { sp } = d
  const target = d.usesFW ? d.fw : d.ext
  for (const vip of sp.lbVIPs) {
    const match = dportMatch(d, vip)
    if (d.cat.hasEndpoints) d.w.line(NAT_RULES, `-A KUBE-SERVICES -m comment --comment "${sp.name} loadbalancer IP" ${match} -j ${target}`)
    if (d.usesFW) d.w.line(FILTER_RULES, `-A KUBE-PROXY-FIREWALL -m comment --comment "${sp.name} traffic not accepted by ${d.fw}" ${match} -j DROP`)
  }
  if (!d.hasExternal) {
    for (const vip of sp.lbVIPs) {
      d.w.line(
        FILTER_RULES,
        `-A KUBE-EXTERNAL-SERVICES -m comment --comment ${d.externalComment} ${dportMatch(d, vip)} -j ${d.externalVerdict}`,
      )
    }
  }
}

function nodePortRules(d: Decided): void {
  const { sp, ctx } = d
  if (sp.nodePort !== 0) {
    if (d.cat.hasEndpoints) {
      // The localhost rule only counts packets (nfacct); the plain rule below matches them too.
      if (ctx.localhostNodePorts && ctx.nfacct) {
        d.w.line(
          NAT_RULES,
          `-A KUBE-NODEPORTS -m comment --comment ${sp.name} ${d.proto} -d 127.0.0.0/8 --dport ${sp.nodePort} -m nfacct --nfacct-name localhost_nps_accepted_pkts -j ${d.ext}`,
        )
      }
      // NodePorts are not subject to loadBalancerSourceRanges (upstream keeps it that way).
      d.w.line(NAT_RULES, `-A KUBE-NODEPORTS -m comment --comment ${sp.name} ${d.proto} --dport ${sp.nodePort} -j ${d.ext}`)
    }
    if (!d.hasExternal) {
      d.w.line(
        FILTER_RULES,
        `-A KUBE-EXTERNAL-SERVICES -m comment --comment ${d.externalComment} -m addrtype --dst-type LOCAL ${d.proto} --dport ${sp.nodePort} -j ${d.externalVerdict}`,
      )
    }
  }
  if (sp.healthCheckNodePort !== 0) {
    d.w.line(
        FILTER_RULES,
      `-A KUBE-NODEPORTS -m comment --comment "${sp.name} health check node port" -m tcp -p tcp --dport ${sp.healthCheckNodePort} -j ACCEPT`,
    )
  }
}

/** Masquerade off-cluster traffic to the cluster IP (in SVL when iTP=Local). */
function internalMasqueradeRule(d: Decided): void {
  const { ctx } = d
  if (!d.hasInternal || (!ctx.masqueradeAll && ctx.localCIDR === null)) return
  const rules = d.w.text(NAT_RULES)
  rules.put(APPEND)
  writeChain(rules, d, d.internalChain)
  // clusterIPRules wrote the match already (it runs first, and hasInternal holds for both).
  writeClusterIPMatch(d, rules)
  if (ctx.masqueradeAll) rules.put(MARK_MASQ)
  else rules.put(NOT_SOURCE), rules.add(ctx.localCIDR!), rules.put(MARK_MASQ)
  rules.byte(NEWLINE)
  d.w.lines(NAT_RULES, 1)
}

function externalChainRules(d: Decided): void {
  if (!d.usesEXT) return
  const { sp, ctx, ext } = d
  d.w.line(NAT_CHAINS, chainLine(ext))
  if (!sp.externalPolicyLocal) {
    d.w.line(NAT_RULES, `-A ${ext} -m comment --comment "masquerade traffic for ${sp.name} external destinations" -j KUBE-MARK-MASQ`)
  } else {
    // eTP=Local short-circuits: pods and the node itself still reach every endpoint via SVC.
    if (ctx.localCIDR !== null) {
      d.w.line(NAT_RULES, `-A ${ext} -m comment --comment "pod traffic for ${sp.name} external destinations" -s ${ctx.localCIDR} -j ${d.svc}`)
    }
    d.w.line(
      NAT_RULES,
      `-A ${ext} -m comment --comment "masquerade LOCAL traffic for ${sp.name} external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`,
    )
    d.w.line(NAT_RULES, `-A ${ext} -m comment --comment "route LOCAL traffic for ${sp.name} external destinations" -m addrtype --src-type LOCAL -j ${d.svc}`)
  }
  if (d.hasExternal) d.w.line(NAT_RULES, `-A ${ext} -j ${d.externalChain}`)
}

function firewallChainRules(d: Decided): void {
  if (!d.usesFW) return
  const { sp, ctx, fw, ext } = d
  d.w.line(NAT_CHAINS, chainLine(fw))
  const a = `-A ${fw} -m comment --comment "${sp.name} loadbalancer IP"`
  let allowNode = false
  for (const r of sp.sourceRanges) {
    d.w.line(NAT_RULES, `${a} -s ${r.text} -j ${ext}`)
    if (ctx.primaryIP && cidrContains(r, ctx.primaryIP)) allowNode = true
  }
  // A node reaching its own VIP shows up with the VIP as source address.
  if (allowNode) for (const vip of sp.lbVIPs) d.w.line(NAT_RULES, `${a} -s ${vip} -j ${ext}`)
  d.w.line(NAT_RULES, `-A ${fw} -m comment --comment "other traffic to ${sp.name} will be dropped by KUBE-PROXY-FIREWALL"`)
}

/**
 * ` -m statistic --mode random --probability P -j ` for 1/k, cached like probability(); with
 * the closing quote of the comment in front when `quoted`.
 */
const statistic: Ascii[][] = [[], []]
function statisticFragment(k: number, quoted: boolean): Ascii {
  return (statistic[quoted ? 1 : 0]![k] ??= asciiBytes(`${quoted ? '"' : ''} -m statistic --mode random --probability ${probability(k)} -j `))
}

const CLOSE_JUMP = asciiBytes('" -j ')
const JUMP = asciiBytes(' -j ')
const RECENT = asciiBytes(' -m recent --name ')
const CHAIN = asciiBytes(':')
const CHAIN_END = asciiBytes(' - [0:0]\n')
const APPEND = asciiBytes('-A ')
// Hairpin: a pod reaching itself through the service must be masqueraded.
const HAIRPIN_NEXT = asciiBytes(' -j KUBE-MARK-MASQ\n-A ')
/** The writer's `again` slots for a service port's repeated fragments. */
const HEAD = 0
const CHECK = 1
const MASQ = 2
const DNAT = 3
const SET_DNAT = 4
const CLUSTER_IP = 5
const KUBE_SEP = asciiBytes('KUBE-SEP-')
const KUBE_SERVICES = asciiBytes('-A KUBE-SERVICES')
const MARK_MASQ = asciiBytes(' -j KUBE-MARK-MASQ')
const NOT_SOURCE = asciiBytes(' ! -s ')
const COMMENT_QUOTE = asciiBytes(' -m comment --comment "')
const CLUSTER_IP_QUOTE = asciiBytes(' cluster IP" ')
const ARROW = asciiBytes(' -> ')
const DST = asciiBytes(' -d ')
const DPORT = asciiBytes(' --dport ')
const PROTO_BYTES = { tcp: asciiBytes(PROTO.tcp), udp: asciiBytes(PROTO.udp), sctp: asciiBytes(PROTO.sctp) } as const

/**
 * writeServiceToEndpointRules: affinity checks, then the statistic cascade. One line per
 * endpoint, so written as a few fragments (writer.ts) rather than a template literal.
 */
function dispatchRules(d: Decided, chain: string, eps: Endpoint[]): void {
  const { sp, ctx, w } = d
  const chains = w.text(NAT_CHAINS)
  chains.put(CHAIN)
  writeChain(chains, d, chain)
  chains.put(CHAIN_END)
  w.lines(NAT_CHAINS, 1)
  const n = eps.length
  const rules = w.text(NAT_RULES)
  // Every rule's head, `-A CHAIN` and (not in large-cluster mode, proxier.go largeClusterMode)
  // the comment's start, written once in pieces and then copied (HEAD slot).
  const head = (): void => {
    if (rules.repeat(HEAD)) return
    const start = rules.length
    rules.put(APPEND)
    writeChain(rules, d, chain)
    if (ctx.comments) rules.put(COMMENT_QUOTE), rules.add(sp.name), rules.put(ARROW)
    rules.mark(HEAD, start)
  }
  rules.forget(HEAD)
  const last = ctx.comments ? CLOSE_JUMP : JUMP
  if (sp.stickySeconds > 0) {
    const check = ` --rcheck --seconds ${sp.stickySeconds} --reap -j `
    for (let i = 0; i < n; i++) {
      const e = eps[i]!
      head()
      if (ctx.comments) writeId(rules, e), rules.byte(QUOTE)
      rules.put(RECENT)
      writeSep(rules, e)
      rules.again(CHECK, check)
      writeSep(rules, e)
      rules.byte(NEWLINE)
    }
    w.lines(NAT_RULES, n)
  }
  for (let i = 0; i < n; i++) {
    const e = eps[i]!
    head()
    if (ctx.comments) writeId(rules, e)
    rules.put(i < n - 1 ? statisticFragment(n - i, ctx.comments) : last)
    writeSep(rules, e)
    rules.byte(NEWLINE)
  }
  w.lines(NAT_RULES, n)
}

/**
 * Per endpoint: its KUBE-SEP chain, the hairpin masquerade and the DNAT. The hottest loop of a
 * plan (100k endpoints at 10k services), so it writes to the two buffers' texts directly.
 */
function endpointChains(d: Decided): void {
  const { sp, ctx, w } = d
  const comment = ctx.comments ? ` -m comment --comment ${sp.name}` : ''
  const sticky = sp.stickySeconds > 0
  const masq = ctx.comments ? `${comment} -s ` : ' -s '
  const dnat = sticky ? `${comment} -m recent --name ` : ctx.comments ? `${comment}${TO_DESTINATION[sp.protocol]}` : TO_DESTINATION[sp.protocol]
  const setDnat = ` --set${TO_DESTINATION[sp.protocol]}`
  const chains = w.text(NAT_CHAINS)
  const rules = w.text(NAT_RULES)
  const eps = d.cat.allReachable
  for (let i = 0; i < eps.length; i++) {
    const e = eps[i]!
    chains.put(CHAIN)
    writeSep(chains, e)
    chains.put(CHAIN_END)
    rules.put(APPEND)
    writeSep(rules, e)
    rules.again(MASQ, masq)
    writeIp(rules, e)
    rules.put(HAIRPIN_NEXT)
    writeSep(rules, e)
    rules.again(DNAT, dnat)
    if (sticky) writeSep(rules, e), rules.again(SET_DNAT, setDnat)
    writeId(rules, e)
    rules.byte(NEWLINE)
  }
  w.lines(NAT_CHAINS, eps.length)
  w.lines(NAT_RULES, 2 * eps.length)
}

function endpointCounts(eps: Endpoint[]): { total: number; ready: number; serving: number; terminating: number } {
  let ready = 0
  let serving = 0
  let terminating = 0
  for (const e of eps) {
    if (e.ready) ready++
    if (e.serving) serving++
    if (e.terminating) terminating++
  }
  return { total: eps.length, ready, serving, terminating }
}

// eslint-disable-next-line no-control-regex
const NON_ASCII = /[^\x00-\x7f]/

/**
 * The statistics of a service segment as analysis/stats.ts's scan of its nat rules finds them,
 * from the decisions instead of the text: the cluster-IP jump is the segment's first
 * KUBE-SERVICES nat rule; a new connection then walks the internal chain (SVC, or SVL for
 * internalTrafficPolicy Local) — its masquerade rule when it is contiguous with the dispatch
 * rules, the affinity checks, the i-th statistic jump — and the endpoint chain's hairpin rule
 * before its DNAT. The text-derived counts are filled in by the writer as it closes the segment.
 */
function decidedStats(d: Decided): SegmentStats {
  const { sp, ctx, cat } = d
  const st: SegmentStats = {
    lines: [0, 0, 0, 0],
    declared: { filter: 0, nat: 0 },
    appended: { filter: 0, nat: 0 },
    filterBytes: 0,
    natBytes: 0,
    natFixed: { rules: 0, bytes: 0 },
    kubeServices: 0,
    kubeNodePorts: 0,
    clusterPos: d.hasInternal ? 1 : 0,
    sepChains: cat.allReachable.length,
    type: sp.type,
    service: sp.serviceKey,
  }
  const svcDispatch = cat.clusterEndpoints.length > 0 && usesClusterEndpoints(sp)
  const svlDispatch = cat.localEndpoints.length > 0 && usesLocalEndpoints(sp)
  const viaSVC = d.internalChain === d.svc
  const n = viaSVC ? (svcDispatch ? cat.clusterEndpoints.length : 0) : svlDispatch ? cat.localEndpoints.length : 0
  if (!st.clusterPos || n === 0) return st
  const masq = d.hasInternal && (ctx.masqueradeAll || ctx.localCIDR !== null) && (viaSVC || !svcDispatch) ? 1 : 0
  const before = masq + (sp.stickySeconds > 0 ? n : 0)
  let sum = 0
  for (let i = 1; i <= n; i++) sum += before + i + 2
  st.cost = { expected: sum / n, worst: before + n + 2 }
  return st
}

export function serviceSegment(sp: ServicePort, eps: Endpoint[], ctx: FamilyContext, w: SegmentWriter, stats?: WeakMap<Segment, SegmentStats>): Segment {
  const seg: Segment = {
    key: `${sp.name}/${sp.protocol}`,
    service: sp.name,
    protocol: sp.protocol,
    filterChains: '',
    filterRules: '',
    natChains: '',
    natRules: '',
    meta: { type: sp.type, endpoints: endpointCounts(eps) },
  }
  const d = decide(sp, eps, ctx, w)
  nameEndpoints(d)
  clusterIPRules(d)
  externalIPRules(d)
  loadBalancerRules(d)
  nodePortRules(d)
  internalMasqueradeRule(d)
  externalChainRules(d)
  firewallChainRules(d)
  if (d.cat.clusterEndpoints.length > 0 && usesClusterEndpoints(sp)) dispatchRules(d, d.svc, d.cat.clusterEndpoints)
  if (d.cat.localEndpoints.length > 0 && usesLocalEndpoints(sp)) dispatchRules(d, d.svl, d.cat.localEndpoints)
  endpointChains(d)
  // Byte counts from the writer are character counts: only ASCII names (the rest are scanned).
  const st = stats && !NON_ASCII.test(seg.key) ? decidedStats(d) : undefined
  if (st) stats!.set(seg, st)
  w.close(seg, st)
  return seg
}
