/**
 * Parser for `iptables-save` output and `iptables-restore` input (the same grammar).
 *
 * Modelled on upstream's dump parser (pkg/util/iptables/testing/parse.go, ParseIPTablesDump):
 * `*table` opens a table, `:CHAIN POLICY [p:b]` declares a chain, `-A CHAIN …` appends a rule,
 * `-X CHAIN` deletes one, `COMMIT` closes the table; blank and `#` lines are skipped. Unlike the
 * upstream test parser it accepts what a real node prints (built-in chains with policies,
 * `-c`-style `[p:b]` rule counters, rules of undeclared chains are an error) and keeps the line
 * number of everything, so a bad dump is reported with a pointer to the offending line.
 *
 * Errors are BadRequestErrors (problem+json 400) whose issue pointer is `/lines/N` (N = 0-based
 * line index of the request body), because the body is plain text.
 */
import { BadRequestError, type ProblemIssue } from '../../errors.js'
import type { Family } from '../types.js'
import { parseRule, RuleParseError, canonicalRule, type ParsedRule } from './rule.js'

export interface SavedChain {
  name: string
  /** `ACCEPT`/`DROP` for built-in chains, `-` for user chains. */
  policy: string
  counters: string
  line: number
}

export interface SavedRule {
  chain: string
  /** The line as written (trimmed, counters prefix kept off). */
  text: string
  line: number
}

export interface SavedTable {
  name: string
  chains: SavedChain[]
  /** In file order. */
  rules: SavedRule[]
  /** `-X` lines. */
  deleted: string[]
}

export interface SaveDump {
  tables: SavedTable[]
  /** Lenient parsing only: the lines it could not read (0-based line index), skipped. */
  unreadable?: UnreadableLine[]
}

export interface UnreadableLine {
  /** 0-based index of the line in the text (line number − 1). */
  line: number
  text: string
  detail: string
}

export class SaveParseError extends BadRequestError {
  constructor(issues: ProblemIssue[]) {
    super(`not an iptables-save dump: ${issues[0]?.detail ?? 'unknown error'}`, issues)
  }
}

const CHAIN_LINE = /^:(\S+)\s+(\S+)(?:\s+(\[\d+:\d+\]))?$/
const COUNTERS_PREFIX = /^\[\d+:\d+\]\s+/

/**
 * Parses a dump. Throws SaveParseError (400, pointer `/lines/N`) on malformed input; with
 * `lenient`, as dumps from the field come (redacted, cut short, edited), a line it cannot read is
 * listed in `unreadable` and skipped instead, a rule of an undeclared chain declares it, and a
 * table left open at the end is closed.
 */
export function parseSave(text: string, opts: { lenient?: boolean } = {}): SaveDump {
  const tables: SavedTable[] = []
  let cur: SavedTable | undefined
  let declared = new Set<string>()
  const lines = text.split('\n')
  const unreadable: UnreadableLine[] = []
  class Skip extends Error {}
  const fail = (i: number, detail: string): never => {
    if (opts.lenient) {
      unreadable.push({ line: i, text: lines[i]!.trim().slice(0, 200), detail })
      throw new Skip()
    }
    throw new SaveParseError([{ pointer: `/lines/${i}`, detail: `line ${i + 1}: ${detail}` }])
  }
  for (let i = 0; i < lines.length; i++) {
    try {
      readLine(i)
    } catch (err) {
      if (!(err instanceof Skip)) throw err
    }
  }
  if (cur && opts.lenient) {
    unreadable.push({ line: lines.length - 1, text: '', detail: `table ${cur.name} not closed with COMMIT (the dump ends here)` })
    tables.push(cur)
    cur = undefined
  }
  if (cur) throw new SaveParseError([{ pointer: `/lines/${lines.length - 1}`, detail: `table ${cur.name} not closed with COMMIT` }])
  return opts.lenient ? { tables, unreadable } : { tables }

  function readLine(i: number): void {
    const line = lines[i]!.trim()
    if (line === '' || line.startsWith('#')) return
    if (line.startsWith('*')) {
      if (cur && opts.lenient) {
        unreadable.push({ line: i, text: line, detail: `table ${cur.name} not closed with COMMIT before ${line}` })
        tables.push(cur)
      } else if (cur) fail(i, `table ${cur.name} not closed with COMMIT before ${line}`)
      cur = { name: line.slice(1), chains: [], rules: [], deleted: [] }
      declared = new Set()
      return
    }
    if (!cur) fail(i, `expected "*table", got ${JSON.stringify(line.slice(0, 80))}`)
    const table = cur!
    if (line === 'COMMIT') {
      tables.push(table)
      cur = undefined
    } else if (line.startsWith(':')) {
      const m = CHAIN_LINE.exec(line)
      if (!m) fail(i, `bad chain line ${JSON.stringify(line.slice(0, 80))}`)
      if (!declared.has(m![1]!)) table.chains.push({ name: m![1]!, policy: m![2]!, counters: m![3] ?? '[0:0]', line: i })
      declared.add(m![1]!)
    } else if (line.startsWith('-X ')) {
      const name = line.slice(3).trim()
      if (!declared.has(name)) fail(i, `-X of undeclared chain ${name}`)
      table.deleted.push(name)
    } else {
      const body = line.replace(COUNTERS_PREFIX, '')
      const m = /^(?:-A|--append)\s+(\S+)/.exec(body)
      if (!m) fail(i, `expected a rule, chain or COMMIT line, got ${JSON.stringify(line.slice(0, 80))}`)
      if (!declared.has(m![1]!)) {
        if (!opts.lenient) fail(i, `rule appended to undeclared chain ${m![1]}`)
        table.chains.push({ name: m![1]!, policy: '-', counters: '[0:0]', line: i })
        declared.add(m![1]!)
      }
      table.rules.push({ chain: m![1]!, text: body, line: i })
    }
  }
}

export function getTable(dump: SaveDump, name: string): SavedTable | undefined {
  return dump.tables.find((t) => t.name === name)
}

/** Rules of one chain, in order. */
export function chainRules(table: SavedTable, chain: string): SavedRule[] {
  return table.rules.filter((r) => r.chain === chain)
}

/** Parses a rule of a dump, turning a rule error into a 400 that points at its line. */
export function parseSavedRule(rule: SavedRule, family: Family): ParsedRule {
  try {
    return parseRule(rule.text, { family })
  } catch (e) {
    if (e instanceof RuleParseError) {
      throw new SaveParseError([{ pointer: `/lines/${rule.line}`, detail: `line ${rule.line + 1}: ${e.message}` }])
    }
    throw e
  }
}

/** Canonical text of a dump's rule, with errors pointing at its line. */
export function canonicalSavedRule(rule: SavedRule, family: Family): string {
  try {
    return canonicalRule(rule.text, { family })
  } catch (e) {
    if (e instanceof RuleParseError) {
      throw new SaveParseError([{ pointer: `/lines/${rule.line}`, detail: `line ${rule.line + 1}: ${e.message}` }])
    }
    throw e
  }
}

/**
 * The chains a node's `iptables-save` (or `iptables-save -t nat`) declares in its nat table, as
 * kube-proxy reads them before deleting stale chains (pkg/util/iptables GetChainsFromTable): the
 * `existingChains` setting of that node. Read leniently: a dump from the field may be cut short.
 */
export function existingChainsFromSave(text: string): string[] {
  const nat = getTable(parseSave(text, { lenient: true }), 'nat')
  return nat ? nat.chains.map((c) => c.name) : []
}
