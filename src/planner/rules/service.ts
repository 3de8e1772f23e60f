/**
 * The rules of one service port, fast: the same rule families, in the same order, as the
 * reference planner (src/planner/reference.ts, after pkg/proxy/iptables/proxier.go
 * syncProxyRules), written through the segment writer (./writer.ts) so that no string per line
 * is made. The rules of a port are written as whole lines; the rules per endpoint (four or five
 * per endpoint, most of a plan) are written in pieces: constant fragments, the port's repeated
 * fragments (Fragments), and each endpoint's chain name and identity, made once per endpoint.
 * test/planner/reference.test.ts holds the output to the reference's, byte for byte.
 */
import type { Segment, SegmentStats } from '../types.js'
import { LOCAL_CIDR, type FamilyContext } from '../context.js'
import { itemPointer, type Endpoint, type ServicePort } from '../model.js'
import { categorize, externallyAccessible, usesClusterEndpoints, usesLocalEndpoints, type Categorized } from '../topology.js'
import { prefixState, sepHashInto, type PrefixState } from '../iptables/chains.js'
import { probability } from '../iptables/probability.js'
import { cidrContains } from '../kube/ip.js'
import { isSafeChar, safeWord, UnsafeWordError } from '../iptables/words.js'
import { DISPATCH, INTERNAL, NODEPORTS, OWN, SEP_CHAIN, SERVICES, SERVICES_INTERNAL } from './books.js'
import { Ascii, asciiBytes, type Bytes, type SegmentWriter } from './writer.js'

const QUOTE = 34

/** What kube-proxy decides about one service port before writing it (syncProxyRules' locals). */
interface Decided {
  sp: ServicePort
  ctx: FamilyContext
  cat: Categorized
  /** servicePortName + protocol: every chain-name hash of the port starts with it; and its SHA-256 midstate. */
  hashPrefix: string
  hashState: PrefixState | null
  /** `-m p -p p` */
  proto: string
  svc: string
  svl: string
  ext: string
  fw: string
  internalChain: string
  externalPolicyChain: string
  hasInternal: boolean
  hasExternal: boolean
  usesExternalChain: boolean
  usesFWChain: boolean
  /** REJECT without endpoints, DROP without local ones, and the quoted comment saying which. */
  verdict: string
  noEndpoints: string
}

const PROTO = { tcp: '-m tcp -p tcp', udp: '-m udp -p udp', sctp: '-m sctp -p sctp' } as const

/** The port's words from the input (src/planner/iptables/words.ts): refused before anything is written. */
function checkWords(sp: ServicePort, ctx: FamilyContext): void {
  const at = itemPointer(sp.item)
  safeWord(sp.name, 'Service port name', `${at}/metadata/name`)
  safeWord(sp.clusterIP, 'cluster IP', `${at}/spec/clusterIP`)
  for (const ip of sp.externalIPs) safeWord(ip, 'external IP', `${at}/spec/externalIPs`)
  for (const ip of sp.lbVIPs) safeWord(ip, 'load-balancer IP', `${at}/status/loadBalancer/ingress`)
  for (const r of sp.sourceRanges) safeWord(r.text, 'source range', `${at}/spec/loadBalancerSourceRanges`)
  if (ctx.localCIDR !== null && ctx.localCIDR !== LOCAL_CIDR)
    safeWord(
      ctx.localCIDR,
      ctx.localFlag === '-s' ? 'clusterCIDR' : 'detectLocal interface',
      ctx.localFlag === '-s' ? '/proxy/clusterCIDR' : '/proxy/detectLocal',
    )
}

function decide(sp: ServicePort, eps: Endpoint[], ctx: FamilyContext): Decided {
  checkWords(sp, ctx)
  const cat = categorize(sp, eps, ctx.nodeName, ctx.zone, ctx)
  const hashPrefix = sp.name + sp.protocol
  const hashState = prefixState(hashPrefix)
  const hash = hashOf(hashState, hashPrefix)
  const svc = `KUBE-SVC-${hash}`
  const svl = `KUBE-SVL-${hash}`
  const hasInternal = cat.hasEndpoints && !(sp.internalPolicyLocal && cat.localEndpoints.length === 0)
  const hasExternal = cat.hasEndpoints && !(sp.externalPolicyLocal && cat.localEndpoints.length === 0)
  return {
    sp,
    ctx,
    cat,
    hashPrefix,
    hashState,
    proto: PROTO[sp.protocol],
    svc,
    svl,
    ext: `KUBE-EXT-${hash}`,
    fw: `KUBE-FW-${hash}`,
    internalChain: sp.internalPolicyLocal ? svl : svc,
    externalPolicyChain: sp.externalPolicyLocal ? svl : svc,
    hasInternal,
    hasExternal,
    usesExternalChain: cat.hasEndpoints && externallyAccessible(sp),
    usesFWChain: cat.hasEndpoints && sp.lbVIPs.length > 0 && sp.sourceRanges.length > 0,
    verdict: cat.hasEndpoints ? 'DROP' : 'REJECT',
    noEndpoints: cat.hasEndpoints ? `"${sp.name} has no local endpoints"` : `"${sp.name} has no endpoints"`,
  }
}

const HASH = new Uint8Array(16)
function hashOf(state: PrefixState | null, prefix: string): string {
  sepHashInto(state, prefix, '', '', '', HASH, 0)
  return String.fromCharCode(...HASH)
}

/** `-m P -p P -d IP --dport PORT`: the match of every rule for traffic to one of the port's addresses. */
function dportMatch(d: Decided, ip: string): string {
  return `${d.proto} -d ${ip} --dport ${d.sp.port}`
}

/** ` -m comment --comment "NAME cluster IP" -m P -p P -d IP --dport PORT`: the cluster-IP rule's match, which its masquerade rule repeats. */
function clusterIPMatch(d: Decided): string {
  return ` -m comment --comment "${d.sp.name} cluster IP" ${dportMatch(d, d.sp.clusterIP)}`
}

function clusterIPRules(d: Decided, w: SegmentWriter): void {
  const { sp } = d
  if (d.hasInternal) w.natRules.line(`-A KUBE-SERVICES${clusterIPMatch(d)} -j ${d.internalChain}`, SERVICES_INTERNAL)
  else w.filterRules.line(`-A KUBE-SERVICES -m comment --comment ${d.noEndpoints} ${dportMatch(d, sp.clusterIP)} -j ${d.verdict}`)
}

function externalIPRules(d: Decided, w: SegmentWriter): void {
  const { sp } = d
  for (const ip of sp.externalIPs) {
    if (d.cat.hasEndpoints) w.natRules.line(`-A KUBE-SERVICES -m comment --comment "${sp.name} external IP" ${dportMatch(d, ip)} -j ${d.ext}`, SERVICES)
    if (!d.hasExternal) w.filterRules.line(`-A KUBE-EXTERNAL-SERVICES -m comment --comment ${d.noEndpoints} ${dportMatch(d, ip)} -j ${d.verdict}`)
  }
}

function loadBalancerRules(d: Decided, w: SegmentWriter): void {
  const { sp } = d
  const target = d.usesFWChain ? d.fw : d.ext
  for (const ip of sp.lbVIPs) {
    if (d.cat.hasEndpoints) w.natRules.line(`-A KUBE-SERVICES -m comment --comment "${sp.name} loadbalancer IP" ${dportMatch(d, ip)} -j ${target}`, SERVICES)
    if (d.usesFWChain)
      w.filterRules.line(`-A KUBE-PROXY-FIREWALL -m comment --comment "${sp.name} traffic not accepted by ${d.fw}" ${dportMatch(d, ip)} -j DROP`)
  }
  if (!d.hasExternal) {
    for (const ip of sp.lbVIPs) w.filterRules.line(`-A KUBE-EXTERNAL-SERVICES -m comment --comment ${d.noEndpoints} ${dportMatch(d, ip)} -j ${d.verdict}`)
  }
}

function nodePortRules(d: Decided, w: SegmentWriter): void {
  const { sp, ctx } = d
  if (sp.nodePort !== 0) {
    if (d.cat.hasEndpoints) {
      // The localhost rule only counts packets (nfacct); the plain rule below matches them too.
      if (ctx.localhostNodePorts && ctx.nfacctLocalhost) {
        w.natRules.line(
          `-A KUBE-NODEPORTS -m comment --comment ${sp.name} ${d.proto} -d 127.0.0.0/8 --dport ${sp.nodePort} -m nfacct --nfacct-name localhost_nps_accepted_pkts -j ${d.ext}`,
          NODEPORTS,
        )
      }
      // NodePorts are not subject to loadBalancerSourceRanges (upstream keeps it that way).
      w.natRules.line(`-A KUBE-NODEPORTS -m comment --comment ${sp.name} ${d.proto} --dport ${sp.nodePort} -j ${d.ext}`, NODEPORTS)
    }
    if (!d.hasExternal) {
      w.filterRules.line(
        `-A KUBE-EXTERNAL-SERVICES -m comment --comment ${d.noEndpoints} -m addrtype --dst-type LOCAL ${d.proto} --dport ${sp.nodePort} -j ${d.verdict}`,
      )
    }
  }
  if (sp.healthCheckNodePort !== 0) {
    w.filterRules.line(`-A KUBE-NODEPORTS -m comment --comment "${sp.name} health check node port" -m tcp -p tcp --dport ${sp.healthCheckNodePort} -j ACCEPT`)
  }
}

/** Masquerade traffic to the cluster IP that does not come from a local pod (in SVL with internalTrafficPolicy Local). */
function internalMasqueradeRule(d: Decided, w: SegmentWriter): void {
  const { ctx } = d
  if (!d.hasInternal) return
  if (ctx.masqueradeAll) w.natRules.line(`-A ${d.internalChain}${clusterIPMatch(d)} -j KUBE-MARK-MASQ`, INTERNAL)
  else if (ctx.localCIDR !== null) w.natRules.line(`-A ${d.internalChain}${clusterIPMatch(d)} ! ${ctx.localFlag} ${ctx.localCIDR} -j KUBE-MARK-MASQ`, INTERNAL)
}

function externalChainRules(d: Decided, w: SegmentWriter): void {
  if (!d.usesExternalChain) return
  const { sp, ctx, ext } = d
  w.natChains.line(`:${ext} - [0:0]`)
  if (!sp.externalPolicyLocal) {
    w.natRules.line(`-A ${ext} -m comment --comment "masquerade traffic for ${sp.name} external destinations" -j KUBE-MARK-MASQ`)
  } else {
    // eTP=Local short-circuits: pods and the node itself still reach every endpoint via SVC.
    if (ctx.localCIDR !== null)
      w.natRules.line(`-A ${ext} -m comment --comment "pod traffic for ${sp.name} external destinations" ${ctx.localFlag} ${ctx.localCIDR} -j ${d.svc}`)
    w.natRules.line(
      `-A ${ext} -m comment --comment "masquerade LOCAL traffic for ${sp.name} external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ`,
    )
    w.natRules.line(`-A ${ext} -m comment --comment "route LOCAL traffic for ${sp.name} external destinations" -m addrtype --src-type LOCAL -j ${d.svc}`)
  }
  if (d.hasExternal) w.natRules.line(`-A ${ext} -j ${d.externalPolicyChain}`)
}

function firewallChainRules(d: Decided, w: SegmentWriter): void {
  if (!d.usesFWChain) return
  const { sp, ctx, fw, ext } = d
  w.natChains.line(`:${fw} - [0:0]`)
  const head = `-A ${fw} -m comment --comment "${sp.name} loadbalancer IP"`
  let allowFromNode = false
  for (const r of sp.sourceRanges) {
    w.natRules.line(`${head} -s ${r.text} -j ${ext}`)
    if (ctx.primaryIP && cidrContains(r, ctx.primaryIP)) allowFromNode = true
  }
  // A node reaching its own VIP shows up with the VIP as source address.
  if (allowFromNode) for (const ip of sp.lbVIPs) w.natRules.line(`${head} -s ${ip} -j ${ext}`)
  w.natRules.line(`-A ${fw} -m comment --comment "other traffic to ${sp.name} will be dropped by KUBE-PROXY-FIREWALL"`)
}

/**
 * The endpoint chain names (`KUBE-SEP-` and 16 base32 characters) and `ip:port` identities of the
 * port being written, made once per endpoint into scratch that every rule naming them copies
 * from (Endpoint.sep is an endpoint's slot). Scratch reused by every port: the planner is
 * synchronous.
 */
class EndpointScratch {
  static readonly NAME = 25
  /** `[` + the longest IPv6 text (45, IPv4-mapped) + `]:65535` fits. */
  static readonly ID = 64
  names = new Ascii(new Uint8Array(0))
  ids = new Ascii(new Uint8Array(0))
  idLength = new Int32Array(0)

  /** Names every endpoint a rule of the port names (allReachable, see categorize). */
  fill(d: Decided): void {
    const eps = d.cat.allReachable
    if (this.idLength.length < eps.length) this.grow(Math.max(eps.length, 256))
    for (let i = 0; i < eps.length; i++) {
      const e = eps[i]!
      sepHashInto(d.hashState, d.hashPrefix, e.pre, e.ip, e.post, this.names.bytes, EndpointScratch.NAME * i + KUBE_SEP.bytes.length)
      e.sep = i
      this.idLength[i] = this.identity(e, EndpointScratch.ID * i)
    }
  }

  private grow(n: number): void {
    this.names = new Ascii(new Uint8Array(EndpointScratch.NAME * n))
    for (let at = 0; at < this.names.bytes.length; at += EndpointScratch.NAME) this.names.bytes.set(KUBE_SEP.bytes, at)
    this.ids = new Ascii(new Uint8Array(EndpointScratch.ID * n))
    this.idLength = new Int32Array(n)
  }

  /** Writes the endpoint's identity at `at`; its length. An identity that is not a safe word is refused. */
  private identity(e: Endpoint, at: number): number {
    const n = e.pre.length + e.ip.length + e.post.length
    const b = this.ids.bytes
    let ok = n <= EndpointScratch.ID
    for (let s = 0, p = at; ok && s < 3; s++) {
      const part = s === 0 ? e.pre : s === 1 ? e.ip : e.post
      for (let i = 0; i < part.length; i++) ok = isSafeChar((b[p++] = part.charCodeAt(i))) && ok
    }
    if (!ok) throw new UnsafeWordError(e.pre + e.ip + e.post, 'endpoint address')
    return n
  }

  /** The endpoint's chain name. */
  chain(t: Bytes, e: Endpoint): void {
    t.putRange(this.names, EndpointScratch.NAME * e.sep, EndpointScratch.NAME)
  }

  /** The endpoint's `ip:port` (`[ip]:port` for IPv6). */
  id(t: Bytes, e: Endpoint): void {
    t.putRange(this.ids, EndpointScratch.ID * e.sep, this.idLength[e.sep]!)
  }

  /** The endpoint's address. */
  ip(t: Bytes, e: Endpoint): void {
    t.putRange(this.ids, EndpointScratch.ID * e.sep + e.pre.length, e.ip.length)
  }
}

const endpoints = new EndpointScratch()

/** ` -m statistic --mode random --probability P -j ` for 1/k (cached like probability()), with the comment's closing quote in front when `quoted`. */
const statistic: Ascii[][] = [[], []]
function statisticFragment(k: number, quoted: boolean): Ascii {
  return (statistic[quoted ? 1 : 0]![k] ??= asciiBytes(`${quoted ? '"' : ''} -m statistic --mode random --probability ${probability(k)} -j `))
}

const KUBE_SEP = asciiBytes('KUBE-SEP-')
const CHAIN_LINE = asciiBytes(':')
const CHAIN_END = asciiBytes(' - [0:0]')
const APPEND = asciiBytes('-A ')
const JUMP = asciiBytes(' -j ')
const CLOSE_JUMP = asciiBytes('" -j ')
const RECENT = asciiBytes(' -m recent --name ')
const MARK_MASQ = asciiBytes(' -j KUBE-MARK-MASQ')
const TO_DESTINATION = {
  tcp: asciiBytes(' -m tcp -p tcp -j DNAT --to-destination '),
  udp: asciiBytes(' -m udp -p udp -j DNAT --to-destination '),
  sctp: asciiBytes(' -m sctp -p sctp -j DNAT --to-destination '),
} as const

/**
 * writeServiceToEndpointRules: the affinity checks, then the random split, each rule's head
 * (`-A CHAIN` and, unless in large-cluster mode, the comment's start) a repeated fragment.
 */
function dispatchRules(d: Decided, w: SegmentWriter, chain: string, eps: Endpoint[]): void {
  const { sp, ctx } = d
  const internal = chain === d.internalChain
  w.natChains.line(`:${chain} - [0:0]`)
  const head = w.fragments.of(`-A ${chain}`, ctx.comments ? ` -m comment --comment "${sp.name} -> ` : '')
  const n = eps.length
  if (sp.stickySeconds > 0) {
    const check = w.fragments.of(` --rcheck --seconds ${sp.stickySeconds} --reap -j `)
    for (let i = 0; i < n; i++) {
      const e = eps[i]!
      const t = w.natRules.begin(internal ? INTERNAL : OWN)
      w.fragments.copyTo(t, head)
      if (ctx.comments) {
        endpoints.id(t, e)
        t.byte(QUOTE)
      }
      t.put(RECENT)
      endpoints.chain(t, e)
      w.fragments.copyTo(t, check)
      endpoints.chain(t, e)
      w.natRules.end()
    }
  }
  const last = ctx.comments ? CLOSE_JUMP : JUMP
  for (let i = 0; i < n; i++) {
    const e = eps[i]!
    const t = w.natRules.begin(internal ? DISPATCH : OWN)
    w.fragments.copyTo(t, head)
    if (ctx.comments) endpoints.id(t, e)
    t.put(i < n - 1 ? statisticFragment(n - i, ctx.comments) : last)
    endpoints.chain(t, e)
    w.natRules.end()
  }
}

/** Per endpoint: its KUBE-SEP chain, the hairpin masquerade (a pod reaching itself) and the DNAT. */
function endpointChains(d: Decided, w: SegmentWriter): void {
  const { sp, ctx } = d
  const comment = ctx.comments ? ` -m comment --comment ${sp.name}` : ''
  const masq = w.fragments.of(comment, ' -s ')
  const dnat = sp.stickySeconds > 0 ? w.fragments.of(comment, ' -m recent --name ') : w.fragments.of(comment, TO_DESTINATION[sp.protocol])
  const set = w.fragments.of(' --set', TO_DESTINATION[sp.protocol])
  for (const e of d.cat.allReachable) {
    const c = w.natChains.begin(SEP_CHAIN)
    c.put(CHAIN_LINE)
    endpoints.chain(c, e)
    c.put(CHAIN_END)
    w.natChains.end()
    let t = w.natRules.begin(OWN)
    t.put(APPEND)
    endpoints.chain(t, e)
    w.fragments.copyTo(t, masq)
    endpoints.ip(t, e)
    t.put(MARK_MASQ)
    w.natRules.end()
    t = w.natRules.begin(OWN)
    t.put(APPEND)
    endpoints.chain(t, e)
    w.fragments.copyTo(t, dnat)
    if (sp.stickySeconds > 0) {
      endpoints.chain(t, e)
      w.fragments.copyTo(t, set)
    }
    endpoints.id(t, e)
    w.natRules.end()
  }
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

/** One service port's segment, and its statistics when `stats` is given (they come from the writer's books). */
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
  const d = decide(sp, eps, ctx)
  w.begin()
  endpoints.fill(d)
  clusterIPRules(d, w)
  externalIPRules(d, w)
  loadBalancerRules(d, w)
  nodePortRules(d, w)
  internalMasqueradeRule(d, w)
  externalChainRules(d, w)
  firewallChainRules(d, w)
  if (d.cat.clusterEndpoints.length > 0 && usesClusterEndpoints(sp)) dispatchRules(d, w, d.svc, d.cat.clusterEndpoints)
  if (d.cat.localEndpoints.length > 0 && usesLocalEndpoints(sp)) dispatchRules(d, w, d.svl, d.cat.localEndpoints)
  endpointChains(d, w)
  const st = w.end(seg)
  if (stats) {
    st.type = sp.type
    st.service = sp.serviceKey
    stats.set(seg, st)
  }
  return seg
}
