/**
 * Predicts what `iptables-save` prints after a restore script is committed in flush mode, so the
 * kernel tests can compare a read-back byte for byte instead of only counting rules.
 *
 * iptables 1.8 prints a rule from the kernel's binary form, not from the text it was given
 * (iptables/iptables.c print_rule / nft-ruleparse + each extension's `save` hook in
 * extensions/libxt_*.c), so the text is canonicalised (docs/kernel.md, "Facts of the tools"):
 *   - general options first, in the fixed order `[!] -s`, `[!] -d`, `-i`, `-o`, `-p`;
 *   - then the `-m` matches in the order they were loaded, each with its options re-emitted in
 *     the extension's own order (`recent` adds its defaults, `conntrack` reorders states);
 *   - then `-j TARGET` with its options (MARK becomes --set-xmark, REJECT gains --reject-with);
 *   - host addresses gain /32 (/128), strings go through xtables_save_string's quoting.
 * Only the extensions kube-proxy uses are modelled; anything else makes the prediction `null`,
 * and the caller falls back to structural checks for that rule.
 */
import ipaddr from 'ipaddr.js'
import type { IpFamily } from './netns.js'

// ---------------------------------------------------------------------------------------------
// Parsing restore input and save output
// ---------------------------------------------------------------------------------------------

/** Splits a rule line the way iptables-restore does: whitespace, with "double quoted" words. */
export function tokenize(line: string): string[] {
  const out: string[] = []
  let cur = ''
  let inWord = false
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (quoted) {
      if (c === '\\' && i + 1 < line.length) cur += line[++i]
      else if (c === '"') quoted = false
      else cur += c
    } else if (c === '"') {
      quoted = true
      inWord = true
    } else if (c === ' ' || c === '\t') {
      if (inWord) out.push(cur)
      cur = ''
      inWord = false
    } else {
      cur += c
      inWord = true
    }
  }
  if (inWord) out.push(cur)
  return out
}

export interface ChainState {
  /** 'ACCEPT'/'DROP' for built-in chains, '-' for user chains. */
  policy: string
  /** Rule lines as given (restore) or printed (save), including the `-A CHAIN` prefix. */
  rules: string[]
}

/** table -> chain -> state, in the order chains were first seen. */
export type Tables = Map<string, Map<string, ChainState>>

/**
 * Parses an iptables-restore script (flush semantics) or an iptables-save dump. `-X` removes a
 * chain; `-A` to an undeclared chain is kept (the kernel will tell if it is wrong).
 */
export function parseTables(text: string): Tables {
  const tables: Tables = new Map()
  let chains: Map<string, ChainState> | undefined
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    if (line.startsWith('*')) {
      chains = new Map()
      tables.set(line.slice(1), chains)
    } else if (line === 'COMMIT') {
      chains = undefined
    } else if (chains && line.startsWith(':')) {
      const [name = '', policy = '-'] = line.slice(1).split(' ')
      chains.set(name, { policy, rules: [] })
    } else if (chains && line.startsWith('-A ')) {
      const name = line.split(' ')[1] ?? ''
      const chain = chains.get(name) ?? { policy: '-', rules: [] }
      chain.rules.push(line)
      chains.set(name, chain)
    } else if (chains && line.startsWith('-X ')) {
      chains.delete(line.split(' ')[1] ?? '')
    }
  }
  return tables
}

// ---------------------------------------------------------------------------------------------
// Rule prediction
// ---------------------------------------------------------------------------------------------

const NO_QUOTE = /^[A-Za-z0-9_-]+$/

/** xtables_save_string (libxtables/xtables.c): bare when only [A-Za-z0-9_-], else quoted. */
export function saveString(value: string): string {
  if (NO_QUOTE.test(value)) return value
  return `"${value.replace(/["\\']/g, (c) => `\\${c}`)}"`
}

/** libxt_statistic stores round(p·2^31) and prints stored/2^31 with %.11f (reference §13). */
export function saveProbability(p: string): string {
  return (Math.round(Number(p) * 2 ** 31) / 2 ** 31).toFixed(11)
}

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16)}`
}

function parseMark(s: string): [value: number, mask: number | undefined] {
  const [v, m] = s.split('/')
  return [Number(v), m === undefined ? undefined : Number(m)]
}

/** `-s 10.0.0.1` -> `10.0.0.1/32`; networks are masked to their base address. */
export function saveAddress(addr: string, family: IpFamily): string {
  const bits = family === 6 ? 128 : 32
  const [a, len] = addr.includes('/') ? ipaddr.parseCIDR(addr) : [ipaddr.parse(addr), bits]
  if ((a.kind() === 'ipv6') !== (family === 6)) throw new Error(`address ${addr} is not IPv${family}`)
  const base = a.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(`${a}/${len}`) : ipaddr.IPv6.networkAddressFromCIDR(`${a}/${len}`)
  return `${base.toString()}/${len}`
}

interface Opt {
  neg: boolean
  name: string
  args: string[]
}

interface Match {
  name: string
  opts: Opt[]
}

/** Options each modelled match accepts, with their argument counts. */
const MATCH_OPTS: Record<string, Record<string, number>> = {
  comment: { '--comment': 1 },
  tcp: { '--dport': 1, '--sport': 1, '--destination-port': 1, '--source-port': 1 },
  udp: { '--dport': 1, '--sport': 1, '--destination-port': 1, '--source-port': 1 },
  sctp: { '--dport': 1, '--sport': 1, '--destination-port': 1, '--source-port': 1 },
  statistic: { '--mode': 1, '--probability': 1 },
  recent: { '--name': 1, '--set': 0, '--rcheck': 0, '--update': 0, '--remove': 0, '--seconds': 1, '--reap': 0, '--mask': 1, '--rsource': 0, '--rdest': 0 },
  mark: { '--mark': 1 },
  conntrack: { '--ctstate': 1 },
  addrtype: { '--src-type': 1, '--dst-type': 1 },
  nfacct: { '--nfacct-name': 1 },
  multiport: { '--dports': 1, '--sports': 1, '--ports': 1, '--destination-ports': 1, '--source-ports': 1 },
}

const CT_STATE_ORDER = ['INVALID', 'NEW', 'RELATED', 'ESTABLISHED', 'UNTRACKED', 'SNAT', 'DNAT']

class Unpredictable extends Error {}

function get(m: Match, ...names: string[]): Opt | undefined {
  return m.opts.find((o) => names.includes(o.name))
}

function neg(o: Opt): string {
  return o.neg ? '! ' : ''
}

/** One match as its libxt_*.c save hook prints it (without the leading `-m name`). */
function saveMatch(m: Match, family: IpFamily): string[] {
  const out: string[] = []
  switch (m.name) {
    case 'comment':
      for (const o of m.opts) out.push(`--comment ${saveString(o.args[0]!)}`)
      break
    case 'tcp':
    case 'udp':
    case 'sctp': {
      const sport = get(m, '--sport', '--source-port')
      const dport = get(m, '--dport', '--destination-port')
      if (sport) out.push(`${neg(sport)}--sport ${sport.args[0]}`)
      if (dport) out.push(`${neg(dport)}--dport ${dport.args[0]}`)
      break
    }
    case 'statistic': {
      if (get(m, '--mode')?.args[0] !== 'random') throw new Unpredictable('statistic mode')
      const p = get(m, '--probability')
      out.push(`--mode random`, `${p?.neg ? '! ' : ''}--probability ${saveProbability(p?.args[0] ?? '0')}`)
      break
    }
    case 'recent':
      out.push(...saveRecent(m, family))
      break
    case 'mark':
      for (const o of m.opts) {
        const [v, mask] = parseMark(o.args[0]!)
        out.push(`${neg(o)}--mark ${hex(v)}${mask === undefined || mask === 0xffffffff ? '' : `/${hex(mask)}`}`)
      }
      break
    case 'conntrack':
      for (const o of m.opts) {
        const states = o.args[0]!.split(',')
        if (states.some((s) => !CT_STATE_ORDER.includes(s))) throw new Unpredictable('ctstate')
        out.push(`${neg(o)}--ctstate ${CT_STATE_ORDER.filter((s) => states.includes(s)).join(',')}`)
      }
      break
    case 'addrtype': {
      const src = get(m, '--src-type')
      const dst = get(m, '--dst-type')
      if (src) out.push(`${neg(src)}--src-type ${src.args[0]}`)
      if (dst) out.push(`${neg(dst)}--dst-type ${dst.args[0]}`)
      break
    }
    case 'nfacct':
      // libxt_nfacct prints " --nfacct-name " and then xtables_save_string adds its own space.
      out.push(`--nfacct-name  ${saveString(get(m, '--nfacct-name')!.args[0]!)}`)
      break
    case 'multiport':
      for (const o of m.opts) out.push(`${neg(o)}${o.name.replace('destination-', 'd').replace('source-', 's')} ${o.args[0]}`)
      break
    default:
      throw new Unpredictable(`match ${m.name}`)
  }
  return out
}

/** libxt_recent.c recent_save: flags, --seconds, --reap, --name, --mask, side. */
function saveRecent(m: Match, family: IpFamily): string[] {
  const out: string[] = []
  const inverted = m.opts.some((o) => o.neg)
  if (inverted) out.push('!')
  for (const flag of ['--set', '--rcheck', '--update', '--remove']) if (get(m, flag)) out.push(flag)
  const seconds = get(m, '--seconds')
  if (seconds) out.push(`--seconds ${seconds.args[0]}`)
  if (get(m, '--reap')) out.push('--reap')
  out.push(`--name ${get(m, '--name')?.args[0] ?? 'DEFAULT'}`)
  const fullMask = family === 6 ? 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' : '255.255.255.255'
  out.push(`--mask ${get(m, '--mask')?.args[0] ?? fullMask}`)
  out.push(get(m, '--rdest') ? '--rdest' : '--rsource')
  return out
}

/** The target and its options as the extension's save hook prints them. */
function saveTarget(target: string, args: string[], family: IpFamily): string[] {
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(name)
    return i >= 0 ? args[i + 1] : undefined
  }
  switch (target) {
    case 'MARK': {
      const or = opt('--or-mark')
      const xor = opt('--xor-mark')
      const set = opt('--set-xmark') ?? opt('--set-mark')
      if (or !== undefined) return [`--set-xmark ${hex(Number(or))}/${hex(Number(or))}`]
      if (xor !== undefined) return [`--set-xmark ${hex(Number(xor))}/0x0`]
      if (set !== undefined) {
        const [v, mask] = parseMark(set)
        return [`--set-xmark ${hex(v)}/${hex(mask ?? 0xffffffff)}`]
      }
      throw new Unpredictable('MARK')
    }
    case 'REJECT':
      return [`--reject-with ${opt('--reject-with') ?? (family === 6 ? 'icmp6-port-unreachable' : 'icmp-port-unreachable')}`]
    case 'DNAT':
    case 'SNAT':
    case 'MASQUERADE':
      // kube-proxy passes these through in the order libxt_NAT saves them.
      return args.length ? [args.join(' ')] : []
    default:
      if (args.length) throw new Unpredictable(`target ${target} options`)
      return []
  }
}

interface ParsedRule {
  chain: string
  general: Map<string, Opt>
  matches: Match[]
  target?: string
  targetArgs: string[]
}

const GENERAL: Record<string, string> = {
  '-s': '-s',
  '--source': '-s',
  '-d': '-d',
  '--destination': '-d',
  '-i': '-i',
  '--in-interface': '-i',
  '-o': '-o',
  '--out-interface': '-o',
  '-p': '-p',
  '--protocol': '-p',
}

function parseRule(tokens: string[]): ParsedRule {
  if (tokens[0] !== '-A' || !tokens[1]) throw new Unpredictable('not an -A rule')
  const rule: ParsedRule = { chain: tokens[1], general: new Map(), matches: [], targetArgs: [] }
  let negate = false
  for (let i = 2; i < tokens.length; i++) {
    const t = tokens[i]!
    if (t === '!') {
      negate = true
      continue
    }
    if (t === '-j' || t === '--jump') {
      rule.target = tokens[i + 1]
      rule.targetArgs = tokens.slice(i + 2)
      break
    }
    if (t === '-m' || t === '--match') {
      rule.matches.push({ name: tokens[++i]!, opts: [] })
    } else if (GENERAL[t]) {
      rule.general.set(GENERAL[t], { neg: negate, name: GENERAL[t], args: [tokens[++i]!] })
    } else if (t.startsWith('--')) {
      i = attachOption(rule, t, tokens, i, negate)
    } else {
      throw new Unpredictable(`token ${t}`)
    }
    negate = false
  }
  return rule
}

/** Gives `--opt` to the latest match that knows it, or to an implicit protocol match. */
function attachOption(rule: ParsedRule, name: string, tokens: string[], i: number, negate: boolean): number {
  let owner = [...rule.matches].reverse().find((m) => MATCH_OPTS[m.name]?.[name] !== undefined)
  if (!owner) {
    const proto = rule.general.get('-p')?.args[0]?.toLowerCase()
    if (!proto || MATCH_OPTS[proto]?.[name] === undefined) throw new Unpredictable(`option ${name}`)
    // `-p tcp --dport 80` loads the tcp match implicitly at this point.
    owner = { name: proto, opts: [] }
    rule.matches.push(owner)
  }
  const n = MATCH_OPTS[owner.name]![name]!
  owner.opts.push({ neg: negate, name, args: tokens.slice(i + 1, i + 1 + n) })
  return i + n
}

/**
 * The line iptables-save prints for one `-A` restore line, or null when the rule uses something
 * this model does not cover.
 */
export function predictSaveRule(line: string, family: IpFamily = 4): string | null {
  try {
    const rule = parseRule(tokenize(line))
    const parts = ['-A', rule.chain]
    for (const key of ['-s', '-d', '-i', '-o', '-p']) {
      const o = rule.general.get(key)
      if (!o) continue
      const v = key === '-s' || key === '-d' ? saveAddress(o.args[0]!, family) : key === '-p' ? o.args[0]!.toLowerCase() : o.args[0]!
      parts.push(`${neg(o)}${key} ${v}`)
    }
    for (const m of rule.matches) parts.push(`-m ${m.name}`, ...saveMatch(m, family))
    if (rule.target) parts.push(`-j ${rule.target}`, ...saveTarget(rule.target, rule.targetArgs, family))
    return parts.join(' ')
  } catch (e) {
    if (e instanceof Unpredictable) return null
    throw e
  }
}

// ---------------------------------------------------------------------------------------------
// Comparing a read-back with a restore input
// ---------------------------------------------------------------------------------------------

const BUILTINS: Record<string, string[]> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  raw: ['PREROUTING', 'OUTPUT'],
}

export interface ReadBackReport {
  /** Human-readable problems; empty when the read-back matches. */
  problems: string[]
  tables: number
  chains: number
  rules: number
  /** Rules whose save form was predicted and matched byte for byte. */
  predicted: number
  /** Rules the model could not predict (only their count/position was checked). */
  unpredicted: string[]
}

/**
 * Compares `iptables-save` output (comments stripped) with the restore input that produced it
 * in a fresh namespace (flush mode): same tables, same chain set (user chains + built-ins),
 * same rule count per chain, and every predictable rule equal to its predicted save form.
 */
export function compareReadBack(restoreText: string, saveText: string, family: IpFamily = 4): ReadBackReport {
  const want = parseTables(restoreText)
  const got = parseTables(saveText)
  const report: ReadBackReport = { problems: [], tables: 0, chains: 0, rules: 0, predicted: 0, unpredicted: [] }
  const tableNames = new Set([...want.keys(), ...got.keys()])
  for (const table of tableNames) {
    const w = want.get(table)
    const g = got.get(table)
    if (!w || !g) {
      report.problems.push(`table ${table}: ${w ? 'missing from save' : 'unexpected in save'}`)
      continue
    }
    report.tables += 1
    compareTable(table, w, g, family, report)
  }
  return report
}

function compareTable(table: string, want: Map<string, ChainState>, got: Map<string, ChainState>, family: IpFamily, report: ReadBackReport): void {
  const builtins = BUILTINS[table] ?? []
  const names = new Set([...builtins, ...want.keys(), ...got.keys()])
  for (const name of names) {
    const w = want.get(name) ?? (builtins.includes(name) ? { policy: 'ACCEPT', rules: [] } : undefined)
    const g = got.get(name)
    if (!w || !g) {
      report.problems.push(`${table}/${name}: ${w ? 'chain missing from save' : 'unexpected chain in save'}`)
      continue
    }
    report.chains += 1
    if (w.rules.length !== g.rules.length) {
      report.problems.push(`${table}/${name}: ${w.rules.length} rules written, ${g.rules.length} read back`)
      continue
    }
    w.rules.forEach((line, i) => {
      report.rules += 1
      const predicted = predictSaveRule(line, family)
      if (predicted === null) report.unpredicted.push(line)
      else if (predicted !== g.rules[i]) report.problems.push(`${table}/${name} rule ${i + 1}:\n  predicted ${predicted}\n  read back ${g.rules[i]}`)
      else report.predicted += 1
    })
  }
}

/**
 * A save dump split per table, `*table` … `COMMIT` blocks keyed by name. Backends print the
 * tables in different orders (legacy: as the kernel lists them, nat before filter once both
 * exist; nft: filter first), but each block is byte-identical between them.
 */
export function tableBlocks(saveText: string): Record<string, string> {
  const blocks: Record<string, string> = {}
  let current: string[] | undefined
  for (const line of saveText.split('\n')) {
    if (line.startsWith('*')) current = [line]
    else if (current) current.push(line)
    if (current && line === 'COMMIT') {
      blocks[current[0]!.slice(1)] = current.join('\n')
      current = undefined
    }
  }
  return blocks
}

const IPV6_OPERAND = /(?:^|\s)(?:-s|-d|--to-destination)\s+\[?[0-9a-fA-F]*:[0-9a-fA-F.:]*:/m

/**
 * A conformance `expected.txt` per IP family: dual-stack cases hold the IPv4 normal form, a
 * `# IPv6` line, then the IPv6 one; single-family files are told apart by their addresses.
 */
export function expectedByFamily(text: string): { family: IpFamily; text: string }[] {
  const marker = /^# IPv6$/m.exec(text)
  if (marker) {
    return [
      { family: 4, text: text.slice(0, marker.index) },
      { family: 6, text: text.slice(marker.index + marker[0].length + 1) },
    ]
  }
  return [{ family: IPV6_OPERAND.test(text) ? 6 : 4, text }]
}
