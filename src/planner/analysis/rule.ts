/**
 * One rule, parsed: the structure both kube-proxy's restore input and iptables-save's printed
 * form share, and a canonical text that maps both forms to one string.
 *
 * The canonical text IS iptables-save's printed form (iptables 1.8, identical on the legacy and
 * nft backends — docs/kernel.md, "Facts of the tools"), so that
 * canonicalising a line iptables-save printed is the identity, and canonicalising the line
 * kube-proxy wrote predicts what the kernel will print back:
 *
 * - `[!] -s`, `[!] -d`, `-i`, `-o`, `-p` first, then the `-m` matches in the order given, then
 *   `-j` and the target's options;
 * - host addresses gain `/32` (`/128`), networks are printed masked;
 * - the protocol match (`-m tcp`) keeps its place among the matches; an implicit one (`-p tcp
 *   --dport 80` without `-m tcp`) is loaded where its first option appears, as iptables does;
 * - option order inside a match as the extension's save function prints it (libxt_recent,
 *   libxt_addrtype, libxt_conntrack, libxt_tcp…), defaults made explicit (`-m recent`: `--name
 *   DEFAULT --mask 255.255.255.255 --rsource`; REJECT: `--reject-with icmp-port-unreachable`);
 * - `--probability` as the kernel stores it (libxt_statistic: round(p·2^31), printed `%.11f`);
 * - MARK's `--or-mark`/`--xor-mark`/`--and-mark`/`--set-mark` as `--set-xmark value/mask`, marks
 *   as unpadded hex (libxt_MARK, libxt_mark);
 * - comments quoted by `xtables_save_string` rules.
 */
import ipaddr from 'ipaddr.js'
import type { Family } from '../types.js'
import { saveQuote, tokenize, TokenizeError } from './tokens.js'

export interface Opt {
  /** `--dport`, `--comment`… (long names normalised to the ones save prints). */
  name: string
  negated: boolean
  values: string[]
}

export interface MatchModule {
  name: string
  opts: Opt[]
  /** Loaded implicitly by a protocol option (`-p tcp --dport 80`). */
  implicit?: boolean
}

export interface AddrMatch {
  /** Canonical `address/prefix`. */
  value: string
  negated: boolean
}

export interface ParsedRule {
  chain: string
  source?: AddrMatch
  destination?: AddrMatch
  inInterface?: { value: string; negated: boolean }
  outInterface?: { value: string; negated: boolean }
  protocol?: { value: string; negated: boolean }
  matches: MatchModule[]
  /** `-j` target or `-g` chain; absent for a rule with no target (KUBE-FW's marker rule). */
  target?: string
  goto?: boolean
  targetOpts: Opt[]
  family: Family
}

export class RuleParseError extends Error {
  /** The offending line, when known (set by callers that map errors to input positions). */
  rule?: string
}

// Options each match extension understands, so an option can be given to the module that owns
// it wherever it appears on the line (kube-proxy writes `-m tcp -p tcp -d X --dport 80`).
const MATCH_OPTIONS: Record<string, readonly string[]> = {
  tcp: ['--sport', '--dport', '--tcp-flags', '--syn', '--tcp-option'],
  udp: ['--sport', '--dport'],
  sctp: ['--sport', '--dport', '--chunk-types'],
  comment: ['--comment'],
  statistic: ['--mode', '--probability', '--every', '--packet'],
  recent: ['--set', '--rcheck', '--update', '--remove', '--seconds', '--reap', '--hitcount', '--rttl', '--name', '--mask', '--rsource', '--rdest'],
  mark: ['--mark'],
  addrtype: ['--src-type', '--dst-type', '--limit-iface-in', '--limit-iface-out'],
  conntrack: [
    '--ctstate',
    '--ctproto',
    '--ctorigsrc',
    '--ctorigdst',
    '--ctreplsrc',
    '--ctrepldst',
    '--ctorigsrcport',
    '--ctorigdstport',
    '--ctreplsrcport',
    '--ctrepldstport',
    '--ctstatus',
    '--ctexpire',
    '--ctdir',
  ],
  state: ['--state'],
  nfacct: ['--nfacct-name'],
  multiport: ['--sports', '--dports', '--ports'],
}

const LONG_ALIASES: Record<string, string> = {
  '--source-port': '--sport',
  '--destination-port': '--dport',
  '--source-ports': '--sports',
  '--destination-ports': '--dports',
}

const PROTOCOL_MODULES = new Set(['tcp', 'udp', 'sctp'])

const SHORT_OPTS: Record<string, 'src' | 'dst' | 'in' | 'out' | 'proto' | 'match' | 'jump' | 'goto'> = {
  '-s': 'src',
  '--source': 'src',
  '--src': 'src',
  '-d': 'dst',
  '--destination': 'dst',
  '--dst': 'dst',
  '-i': 'in',
  '--in-interface': 'in',
  '-o': 'out',
  '--out-interface': 'out',
  '-p': 'proto',
  '--protocol': 'proto',
  '-m': 'match',
  '--match': 'match',
  '-j': 'jump',
  '--jump': 'jump',
  '-g': 'goto',
  '--goto': 'goto',
}

export interface ParseRuleOptions {
  /** Used for `/32` vs `/128` and REJECT's default when the rule itself has no address. */
  family?: Family
}

/**
 * Parses `-A CHAIN args…` (restore or save form; a leading `[pkts:bytes]` counter is ignored).
 * Throws RuleParseError on a line that is not an append or is malformed.
 */
export function parseRule(line: string, opts: ParseRuleOptions = {}): ParsedRule {
  let tokens: string[]
  try {
    tokens = tokenize(line.trim())
  } catch (e) {
    throw new RuleParseError((e as TokenizeError).message)
  }
  if (tokens[0] && /^\[\d+:\d+\]$/.test(tokens[0])) tokens.shift()
  if ((tokens[0] !== '-A' && tokens[0] !== '--append') || !tokens[1]) {
    throw new RuleParseError('a rule must start with -A CHAIN')
  }
  const rule: ParsedRule = { chain: tokens[1], matches: [], targetOpts: [], family: opts.family ?? 'IPv4' }
  new RuleReader(rule, tokens.slice(2)).read()
  if (rule.source?.value.includes(':') || rule.destination?.value.includes(':')) rule.family = 'IPv6'
  return rule
}

class RuleReader {
  private i = 0
  private negate = false
  private inTarget = false

  constructor(
    private readonly rule: ParsedRule,
    private readonly args: string[],
  ) {}

  read(): void {
    while (this.i < this.args.length) {
      const tok = this.args[this.i++]!
      if (tok === '!') {
        if (this.negate) throw new RuleParseError('double negation')
        this.negate = true
        continue
      }
      const kind = SHORT_OPTS[tok]
      if (kind) this.readBuiltin(kind, tok)
      else if (tok.startsWith('-')) this.readExtensionOpt(LONG_ALIASES[tok] ?? tok)
      else throw new RuleParseError(`unexpected argument ${JSON.stringify(tok)}`)
    }
    if (this.negate) throw new RuleParseError('dangling "!"')
  }

  private value(opt: string): string {
    const v = this.args[this.i++]
    if (v === undefined || v === '!') throw new RuleParseError(`${opt} needs a value`)
    return v
  }

  private takeNegation(): boolean {
    const n = this.negate
    this.negate = false
    return n
  }

  private readBuiltin(kind: string, tok: string): void {
    const negated = this.takeNegation()
    const r = this.rule
    switch (kind) {
      case 'src':
        r.source = { value: canonicalAddress(this.value(tok)), negated }
        return
      case 'dst':
        r.destination = { value: canonicalAddress(this.value(tok)), negated }
        return
      case 'in':
        r.inInterface = { value: this.value(tok), negated }
        return
      case 'out':
        r.outInterface = { value: this.value(tok), negated }
        return
      case 'proto':
        r.protocol = { value: this.value(tok).toLowerCase(), negated }
        return
      case 'match':
        if (negated) throw new RuleParseError('"!" before -m')
        r.matches.push({ name: this.value(tok), opts: [] })
        return
      default:
        if (negated) throw new RuleParseError(`"!" before ${tok}`)
        if (r.target !== undefined) throw new RuleParseError('more than one target')
        r.target = this.value(tok)
        r.goto = kind === 'goto' || undefined
        this.inTarget = true
    }
  }

  private readExtensionOpt(name: string): void {
    const opt: Opt = { name, negated: this.takeNegation(), values: [] }
    while (this.i < this.args.length) {
      const next = this.args[this.i]!
      if (next === '!' || (next.startsWith('-') && next.length > 1 && !/^-\d/.test(next))) break
      opt.values.push(next)
      this.i++
    }
    this.ownerOf(name).opts.push(opt)
  }

  /** The loaded module that understands `name` (last one first), as iptables' getopt merge does. */
  private ownerOf(name: string): { opts: Opt[] } {
    const r = this.rule
    for (let m = r.matches.length - 1; m >= 0; m--) {
      const known = MATCH_OPTIONS[r.matches[m]!.name]
      if (known?.includes(name)) return r.matches[m]!
    }
    if (this.inTarget) return { opts: r.targetOpts }
    const proto = r.protocol?.value
    if (proto && PROTOCOL_MODULES.has(proto) && MATCH_OPTIONS[proto]!.includes(name)) {
      const implicit: MatchModule = { name: proto, opts: [], implicit: true }
      r.matches.push(implicit)
      return implicit
    }
    // An extension we do not model: its options stay with the most recent unknown module.
    for (let m = r.matches.length - 1; m >= 0; m--) {
      if (!MATCH_OPTIONS[r.matches[m]!.name]) return r.matches[m]!
    }
    throw new RuleParseError(`unknown option ${name}`)
  }
}

/** `10.1.2.3` → `10.1.2.3/32`; `10.0.0.5/8` → `10.0.0.0/8`; IPv6 compressed, `/128`. */
export function canonicalAddress(text: string): string {
  try {
    if (text.includes('/')) {
      const [addr, len] = ipaddr.parseCIDR(text)
      const net = addr.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(text) : ipaddr.IPv6.networkAddressFromCIDR(text)
      return `${net.toString()}/${len}`
    }
    const addr = ipaddr.parse(text)
    return `${addr.toString()}/${addr.kind() === 'ipv4' ? 32 : 128}`
  } catch {
    throw new RuleParseError(`bad address ${JSON.stringify(text)}`)
  }
}

// ---------------------------------------------------------------------------------------------
// Probability (reference §13; libxt_statistic.c)
// ---------------------------------------------------------------------------------------------

const TWO_31 = 2 ** 31

/** The 31-bit threshold the kernel stores for `--probability p`. */
export function probabilityThreshold(p: number): number {
  return Math.round(p * TWO_31)
}

/** What the kernel matches with: stored / 2^31. */
export function effectiveProbability(text: string): number {
  const p = Number(text)
  if (!Number.isFinite(p) || p < 0 || p > 1) throw new RuleParseError(`bad probability ${JSON.stringify(text)}`)
  return probabilityThreshold(p) / TWO_31
}

/** iptables-save's text for a probability: `0.3333333333` → `0.33333333349`. */
export function saveProbability(text: string): string {
  return effectiveProbability(text).toFixed(11)
}

/** kube-proxy's text for the same threshold: `0.33333333349` → `0.3333333333` (1/k, `%0.10f`). */
export function restoreProbability(text: string): string {
  const q = effectiveProbability(text)
  if (q === 0) return '0.0000000000'
  const k = Math.round(1 / q)
  return (1 / k).toFixed(10)
}

// ---------------------------------------------------------------------------------------------
// Canonical text
// ---------------------------------------------------------------------------------------------

/** The canonical (iptables-save) text of a rule line. */
export function canonicalRule(line: string, opts: ParseRuleOptions = {}): string {
  return renderCanonical(parseRule(line, opts))
}

export function renderCanonical(r: ParsedRule): string {
  const out: string[] = ['-A', r.chain]
  const neg = (n: boolean) => (n ? ['!'] : [])
  if (r.source) out.push(...neg(r.source.negated), '-s', r.source.value)
  if (r.destination) out.push(...neg(r.destination.negated), '-d', r.destination.value)
  if (r.inInterface) out.push(...neg(r.inInterface.negated), '-i', r.inInterface.value)
  if (r.outInterface) out.push(...neg(r.outInterface.negated), '-o', r.outInterface.value)
  if (r.protocol) out.push(...neg(r.protocol.negated), '-p', r.protocol.value)
  for (const m of r.matches) {
    out.push('-m', m.name)
    for (const o of canonicalMatchOpts(m, r.family)) out.push(...renderOpt(o))
  }
  if (r.target !== undefined) {
    out.push(r.goto ? '-g' : '-j', r.target)
    for (const o of canonicalTargetOpts(r)) out.push(...renderOpt(o))
  }
  return out.join(' ')
}

function renderOpt(o: Opt): string[] {
  return [...(o.negated ? ['!'] : []), o.name, ...o.values]
}

function orderBy(opts: Opt[], order: readonly string[]): Opt[] {
  const rank = (o: Opt) => {
    const i = order.indexOf(o.name)
    return i < 0 ? order.length : i
  }
  return opts
    .map((o, i) => ({ o, i }))
    .sort((a, b) => rank(a.o) - rank(b.o) || a.i - b.i)
    .map((x) => x.o)
}

function canonicalMatchOpts(m: MatchModule, family: Family): Opt[] {
  switch (m.name) {
    case 'tcp':
    case 'udp':
    case 'sctp':
      return orderBy(m.opts, ['--sport', '--dport'])
    case 'comment':
      return m.opts.map((o) => ({ ...o, values: [saveQuote(o.values.join(' '))] }))
    case 'statistic':
      return orderBy(
        m.opts.map((o) => (o.name === '--probability' ? { ...o, values: [saveProbability(o.values[0] ?? '')] } : o)),
        ['--mode', '--probability', '--every', '--packet'],
      )
    case 'recent':
      return canonicalRecent(m.opts, family)
    case 'mark':
      return m.opts.map((o) => (o.name === '--mark' ? { ...o, values: [canonicalMarkMask(o.values[0] ?? '', true)] } : o))
    case 'addrtype':
      return orderBy(m.opts, ['--src-type', '--dst-type', '--limit-iface-in', '--limit-iface-out'])
    case 'conntrack':
    case 'state':
      return orderBy(
        m.opts.map((o) => (o.name === '--ctstate' || o.name === '--state' ? { ...o, values: [canonicalStates(o.values[0] ?? '')] } : o)),
        ['--ctstate', '--state'],
      )
    default:
      return m.opts
  }
}

const RECENT_COMMANDS = ['--set', '--rcheck', '--update', '--remove']

/** libxt_recent's save: command, --seconds, --reap, --hitcount, --rttl, --name, --mask, side. */
function canonicalRecent(opts: Opt[], family: Family): Opt[] {
  const all = [...opts]
  const has = (n: string) => all.some((o) => o.name === n)
  if (!has('--name')) all.push({ name: '--name', negated: false, values: ['DEFAULT'] })
  if (!has('--mask')) {
    all.push({ name: '--mask', negated: false, values: [family === 'IPv6' ? 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' : '255.255.255.255'] })
  }
  if (!has('--rsource') && !has('--rdest')) all.push({ name: '--rsource', negated: false, values: [] })
  return orderBy(all, [...RECENT_COMMANDS, '--seconds', '--reap', '--hitcount', '--rttl', '--name', '--mask', '--rsource', '--rdest'])
}

// libxt_conntrack prints states in this fixed order whatever the input order.
const CT_STATE_ORDER = ['INVALID', 'NEW', 'RELATED', 'ESTABLISHED', 'UNTRACKED', 'SNAT', 'DNAT']

function canonicalStates(list: string): string {
  const states = list.split(',').map((s) => s.toUpperCase())
  const rank = (s: string) => (CT_STATE_ORDER.includes(s) ? CT_STATE_ORDER.indexOf(s) : CT_STATE_ORDER.length)
  return [...new Set(states)].sort((a, b) => rank(a) - rank(b)).join(',')
}

function parseMark(text: string): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RuleParseError(`bad mark ${JSON.stringify(text)}`)
  return n
}

const hex = (n: number) => `0x${n.toString(16)}`

/** `0x00004000/0x00004000` → `0x4000/0x4000`; the match prints no mask when it is all ones. */
function canonicalMarkMask(text: string, omitFullMask: boolean): string {
  const [v, m] = text.split('/')
  const value = parseMark(v ?? '')
  const mask = m === undefined ? 0xffffffff : parseMark(m)
  return omitFullMask && mask === 0xffffffff ? hex(value) : `${hex(value)}/${hex(mask)}`
}

function canonicalTargetOpts(r: ParsedRule): Opt[] {
  switch (r.target) {
    case 'MARK':
      return r.targetOpts.map(canonicalMarkTarget)
    case 'REJECT':
      return r.targetOpts.length
        ? r.targetOpts
        : [{ name: '--reject-with', negated: false, values: [r.family === 'IPv6' ? 'icmp6-port-unreachable' : 'icmp-port-unreachable'] }]
    case 'MASQUERADE':
      return orderBy(r.targetOpts, ['--to-ports', '--random', '--random-fully'])
    default:
      return r.targetOpts
  }
}

/** libxt_MARK revision 2 prints every form as `--set-xmark value/mask`. */
function canonicalMarkTarget(o: Opt): Opt {
  const v = o.values[0] ?? ''
  const set = (value: number, mask: number): Opt => ({ name: '--set-xmark', negated: false, values: [`${hex(value >>> 0)}/${hex(mask >>> 0)}`] })
  switch (o.name) {
    case '--or-mark':
      return set(parseMark(v), parseMark(v))
    case '--xor-mark':
      return set(parseMark(v), 0)
    case '--and-mark':
      return set(0, ~parseMark(v))
    case '--set-mark': {
      const [value, mask] = v.split('/')
      return set(parseMark(value ?? ''), mask === undefined ? 0xffffffff : parseMark(mask))
    }
    case '--set-xmark':
      return { ...o, values: [canonicalMarkMask(v, false)] }
    default:
      return o
  }
}

// ---------------------------------------------------------------------------------------------
// Small accessors used by drift, trace and stats
// ---------------------------------------------------------------------------------------------

export function findOpt(r: ParsedRule, module: string, name: string): Opt | undefined {
  for (const m of r.matches) if (m.name === module) for (const o of m.opts) if (o.name === name) return o
  return undefined
}

/** The comment text of a rule (unquoted), if any. */
export function ruleComment(r: ParsedRule): string | undefined {
  return findOpt(r, 'comment', '--comment')?.values.join(' ')
}
