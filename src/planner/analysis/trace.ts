/**
 * Packet trace through a plan, the way upstream's packet-flow tests trace kube-proxy's output
 * (pkg/proxy/iptables/proxier_test.go: iptablesTracer, ruleMatches, runChain, tracePacket):
 *
 * - nat first, from KUBE-SERVICES (what nat PREROUTING jumps to; that jump is installed outside
 *   the restore script, reference §15) — or from PREROUTING when tracing a node's dump;
 * - a rule matches when its addresses, protocol, `--dport` and addrtype LOCAL tests match;
 *   rules that test state (`-m recent --rcheck/--update`, `-m mark`, `-m conntrack`/`-m state`)
 *   never match; anything else (comment, nfacct, statistic…) matches; rules without a target
 *   are skipped;
 * - a jump to KUBE-MARK-MASQ sets `masqueraded` and goes on; DNAT records the endpoint and ends
 *   the chain; ACCEPT/DROP/REJECT record a verdict and end it; a jump carrying `--probability`
 *   does not end the walk even when the sub-chain DNATs, so every endpoint of the random split
 *   is collected — each with its share, the product of the probabilities on the way (the
 *   kernel's stored value round(p·2^31)/2^31, libxt_statistic);
 * - then, with the destination rewritten to the first endpoint's IP (the port is left as is,
 *   as upstream does), filter KUBE-SERVICES, KUBE-EXTERNAL-SERVICES, KUBE-NODEPORTS and
 *   KUBE-PROXY-FIREWALL are walked for ACCEPT/DROP/REJECT.
 *
 * LOCAL addresses are 127.0.0.1, ::1 and the node addresses given (upstream's fake node).
 */
import ipaddr from 'ipaddr.js'
import { BadRequestError } from '../../errors.js'
import type { Family, FamilyPlan, Protocol, TableName } from '../types.js'
import { tablesOfPlan } from './model.js'
import { effectiveProbability, findOpt, parseRule, RuleParseError, type AddrMatch, type ParsedRule } from './rule.js'
import { parseSave, SaveParseError } from './save.js'

export interface TracePacket {
  source: string
  destination: string
  port: number
  protocol: Protocol
}

export interface TraceMatch {
  table: TableName
  chain: string
  rule: string
}

export interface TraceEndpoint {
  endpoint: string
  /** Effective share of new connections that reach this endpoint (0..1). */
  probability: number
}

export type Verdict = 'DNAT' | 'DROP' | 'REJECT' | 'ACCEPT' | 'NONE'

export interface TraceResult {
  rulesMatched: TraceMatch[]
  endpoints: TraceEndpoint[]
  masqueraded: boolean
  verdict: Verdict
  /** Upstream's tracePacket output string: endpoints and filter verdicts, `, `-joined. */
  output: string
}

/** Rules of a chain, or undefined when the chain does not exist. */
export type ChainLookup = (table: TableName, chain: string) => readonly string[] | undefined

const MAX_DEPTH = 64
const FILTER_CHAINS = ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-NODEPORTS', 'KUBE-PROXY-FIREWALL']

class Tracer {
  readonly matches: TraceMatch[] = []
  readonly outputs: string[] = []
  readonly endpoints: TraceEndpoint[] = []
  masq = false
  constructor(
    private readonly lookup: ChainLookup,
    private readonly family: Family,
    private readonly local: Set<string>,
    private readonly parsed: Map<string, ParsedRule> = new Map(),
  ) {}

  private parse(text: string): ParsedRule {
    let r = this.parsed.get(text)
    if (!r) {
      try {
        r = parseRule(text, { family: this.family })
      } catch (e) {
        if (e instanceof RuleParseError) e.rule = text
        throw e
      }
      this.parsed.set(text, r)
    }
    return r
  }

  /** Returns true when a terminal action (DNAT, ACCEPT, DROP, REJECT) was hit. */
  run(table: TableName, chain: string, pkt: Pkt, weight: number, depth = 0): boolean {
    const rules = this.lookup(table, chain)
    if (!rules || depth > MAX_DEPTH) return false
    let reach = weight
    for (const text of rules) {
      const rule = this.parse(text)
      if (rule.target === undefined || !ruleMatches(rule, pkt, this.local)) continue
      this.matches.push({ table, chain, rule: text })
      const t = rule.target
      if (t === 'KUBE-MARK-MASQ') {
        this.masq = true
        continue
      }
      if (t === 'ACCEPT' || t === 'DROP' || t === 'REJECT') {
        this.outputs.push(t)
        return true
      }
      if (t === 'DNAT') {
        const to = findTargetOpt(rule, '--to-destination') ?? '?'
        this.outputs.push(to)
        this.endpoints.push({ endpoint: to, probability: reach })
        return true
      }
      if (t === 'RETURN') return false
      if (!/^[A-Z0-9-]+$/.test(t) || ['MARK', 'MASQUERADE', 'SNAT', 'CONNMARK', 'LOG'].includes(t)) continue
      const p = findOpt(rule, 'statistic', '--probability')
      const share = p ? effectiveProbability(p.values[0] ?? '') : 1
      const terminated = this.run(table, t, pkt, reach * share, depth + 1)
      if (p) reach *= 1 - share
      else if (terminated || rule.goto) return terminated
    }
    return false
  }
}

function findTargetOpt(r: ParsedRule, name: string): string | undefined {
  return r.targetOpts.find((o) => o.name === name)?.values[0]
}

interface Pkt {
  source: string
  destination: string
  port: number
  protocol: string
  src: Addr | null
  dst: Addr | null
}

type Addr = ipaddr.IPv4 | ipaddr.IPv6
const cidrCache = new WeakMap<AddrMatch, [Addr, number] | null>()

/** The rule's CIDR, parsed once per (cached) parsed rule. */
function cidrOf(m: AddrMatch): [Addr, number] | null {
  let c = cidrCache.get(m)
  if (c === undefined) {
    try {
      c = ipaddr.parseCIDR(m.value)
    } catch {
      c = null
    }
    cidrCache.set(m, c)
  }
  return c
}

function addressMatches(m: AddrMatch, addr: Addr | null): boolean {
  const c = cidrOf(m)
  const hit = addr !== null && c !== null && addr.kind() === c[0].kind() && addr.match(c)
  return hit !== m.negated
}

function parseAddr(ip: string): Addr | null {
  try {
    return ipaddr.parse(ip)
  } catch {
    return null
  }
}

function portMatches(spec: string, port: number): boolean {
  return spec.split(',').some((part) => {
    const [lo, hi] = part.split(':')
    const a = Number(lo)
    const b = hi === undefined ? a : Number(hi || 65535)
    return port >= a && port <= b
  })
}

const STATEFUL = new Set(['mark', 'conntrack', 'state', 'connmark'])

function ruleMatches(r: ParsedRule, pkt: Pkt, local: Set<string>): boolean {
  if (r.destination && !addressMatches(r.destination, pkt.dst)) return false
  if (r.source && !addressMatches(r.source, pkt.src)) return false
  if (r.protocol && (r.protocol.value === pkt.protocol) === r.protocol.negated) return false
  for (const m of r.matches) {
    if (STATEFUL.has(m.name)) return false
    for (const o of m.opts) {
      if (!optionMatches(m.name, o.name, o.values, pkt, local, o.negated)) return false
    }
  }
  return true
}

function optionMatches(module: string, name: string, values: string[], pkt: Pkt, local: Set<string>, negated: boolean): boolean {
  let hit: boolean
  if ((module === 'tcp' || module === 'udp' || module === 'sctp') && name === '--dport') hit = portMatches(values[0] ?? '', pkt.port)
  else if (module === 'multiport' && (name === '--dports' || name === '--ports')) hit = portMatches(values[0] ?? '', pkt.port)
  else if (module === 'addrtype' && (name === '--src-type' || name === '--dst-type')) {
    const ip = name === '--src-type' ? pkt.source : pkt.destination
    hit = values[0] === 'LOCAL' && local.has(canonicalIP(ip))
  } else if (module === 'recent' && (name === '--rcheck' || name === '--update')) return false
  else return true
  return hit !== negated
}

function canonicalIP(ip: string): string {
  try {
    return ipaddr.parse(ip).toString()
  } catch {
    return ip
  }
}

/** The IP of `ip:port` / `[v6]:port`. */
function hostOf(endpoint: string): string {
  const m = /^\[([^\]]+)\]:\d+$/.exec(endpoint)
  if (m) return m[1]!
  const i = endpoint.lastIndexOf(':')
  return i > 0 && !endpoint.slice(0, i).includes(':') ? endpoint.slice(0, i) : endpoint
}

function validatePacket(pkt: TracePacket): void {
  const issues = []
  if (!ipaddr.isValid(pkt.source)) issues.push({ pointer: '/source', detail: 'not an IP address' })
  if (!ipaddr.isValid(pkt.destination)) issues.push({ pointer: '/destination', detail: 'not an IP address' })
  if (!Number.isInteger(pkt.port) || pkt.port < 1 || pkt.port > 65535) issues.push({ pointer: '/port', detail: 'must be an integer 1..65535' })
  if (!['tcp', 'udp', 'sctp'].includes(pkt.protocol)) issues.push({ pointer: '/protocol', detail: 'must be tcp, udp or sctp' })
  if (issues.length) throw new BadRequestError('invalid trace request', issues)
}

/** Traces over any chain source (a plan, or a node's dump). */
export function traceChains(
  lookup: ChainLookup,
  family: Family,
  packet: TracePacket,
  nodeAddresses: readonly string[],
  natEntry = 'KUBE-SERVICES',
  parseCache?: Map<string, ParsedRule>,
): TraceResult {
  validatePacket(packet)
  const local = new Set(['127.0.0.1', '::1', ...nodeAddresses.map(canonicalIP)])
  const tracer = new Tracer(lookup, family, local, parseCache)
  const source = canonicalIP(packet.source)
  const destination = canonicalIP(packet.destination)
  const pkt: Pkt = { ...packet, source, destination, protocol: packet.protocol.toLowerCase(), src: parseAddr(source), dst: parseAddr(destination) }
  tracer.run('nat', natEntry, pkt, 1)
  const dnat = tracer.endpoints.length > 0
  const dnatHost = dnat ? canonicalIP(hostOf(tracer.endpoints[0]!.endpoint)) : ''
  const filterPkt = dnat ? { ...pkt, destination: dnatHost, dst: parseAddr(dnatHost) } : pkt
  for (const c of FILTER_CHAINS) tracer.run('filter', c, filterPkt, 1)
  const verdicts = tracer.outputs.filter((o) => o === 'DROP' || o === 'REJECT' || o === 'ACCEPT')
  const verdict: Verdict = verdicts.includes('DROP')
    ? 'DROP'
    : verdicts.includes('REJECT')
      ? 'REJECT'
      : dnat
        ? 'DNAT'
        : verdicts.includes('ACCEPT')
          ? 'ACCEPT'
          : 'NONE'
  return { rulesMatched: tracer.matches, endpoints: tracer.endpoints, masqueraded: tracer.masq, verdict, output: tracer.outputs.join(', ') }
}

// Plans are immutable: their chain tables and parsed rules are kept while the plan object lives,
// so repeated traces of one version (a loaded/cached plan) skip re-parsing KUBE-SERVICES.
const planCache = new WeakMap<FamilyPlan, { tables: ReturnType<typeof tablesOfPlan>; parsed: Map<string, ParsedRule> }>()

export function trace(plan: FamilyPlan, packet: TracePacket, nodeAddresses: readonly string[]): TraceResult {
  let cached = planCache.get(plan)
  if (!cached) planCache.set(plan, (cached = { tables: tablesOfPlan(plan), parsed: new Map() }))
  const { tables, parsed } = cached
  return traceChains((t, c) => tables[t].chains.get(c)?.rules, plan.family, packet, nodeAddresses, 'KUBE-SERVICES', parsed)
}

/** Traces a node's `iptables-save` dump, entering nat at PREROUTING as the kernel does. */
export function traceSave(saveText: string, family: Family, packet: TracePacket, nodeAddresses: readonly string[]): TraceResult {
  const dump = parseSave(saveText)
  const chains = new Map<string, string[]>()
  const lineOf = new Map<string, number>()
  for (const tbl of dump.tables) {
    for (const c of tbl.chains) chains.set(`${tbl.name} ${c.name}`, [])
    for (const r of tbl.rules) {
      chains.get(`${tbl.name} ${r.chain}`)!.push(r.text)
      if (!lineOf.has(r.text)) lineOf.set(r.text, r.line)
    }
  }
  const hasPrerouting = (chains.get('nat PREROUTING')?.length ?? 0) > 0
  try {
    return traceChains((t, c) => chains.get(`${t} ${c}`), family, packet, nodeAddresses, hasPrerouting ? 'PREROUTING' : 'KUBE-SERVICES')
  } catch (e) {
    // A rule the tracer could not read: a client error pointing at its line, never a 500.
    if (e instanceof RuleParseError && e.rule !== undefined) {
      const line = lineOf.get(e.rule) ?? 0
      throw new SaveParseError([{ pointer: `/lines/${line}`, detail: `line ${line + 1}: ${e.message}` }])
    }
    throw e
  }
}
