/**
 * The normal form upstream compares restore scripts in: assertIPTablesRulesEqual
 * (pkg/proxy/iptables/proxier_test.go) parses with pkg/util/iptables/testing/parse.go, sorts
 * (sortIPTablesRules) and re-serialises. Used by the conformance tests and anyone who wants to
 * compare two scripts the way upstream does.
 */

interface Chain {
  name: string
  /** The declaration line as written (keeps counters / policy). */
  line: string
  rules: string[]
  deleted: boolean
}
interface Table {
  name: string
  chains: Chain[]
}

export class RestoreParseError extends Error {}

export function parseRestore(text: string): Table[] {
  const tables: Table[] = []
  let cur: Table | null = null
  let byName = new Map<string, Chain>()
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    if (line.startsWith('*')) {
      cur = { name: line.slice(1), chains: [] }
      byName = new Map()
      tables.push(cur)
      continue
    }
    if (!cur) throw new RestoreParseError(`line outside a table: ${line}`)
    if (line === 'COMMIT') {
      cur = null
      continue
    }
    if (line.startsWith(':')) {
      const name = line.slice(1).split(' ')[0]!
      const c: Chain = { name, line, rules: [], deleted: false }
      byName.set(name, c)
      cur.chains.push(c)
      continue
    }
    const words = line.split(' ')
    if (words[0] === '-A' && words[1]) {
      const c = byName.get(words[1])
      if (!c) throw new RestoreParseError(`rule for undeclared chain ${words[1]}`)
      c.rules.push(line)
      continue
    }
    if (words[0] === '-X' && words[1]) {
      const c = byName.get(words[1])
      if (!c) throw new RestoreParseError(`-X of undeclared chain ${words[1]}`)
      c.deleted = true
      continue
    }
    throw new RestoreParseError(`unsupported line: ${line}`)
  }
  return tables
}

function chainRank(name: string): number {
  if (name === 'KUBE-NODEPORTS') return 0
  if (name === 'KUBE-SERVICES') return 1
  return name.startsWith('KUBE-') ? 2 : 3
}

const byteCmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** The service name of a rule: its comment up to the first space or colon (quotes stripped). */
function serviceNameOf(rule: string): string | null {
  const i = rule.indexOf('--comment ')
  if (i < 0) return null
  let rest = rule.slice(i + 10)
  if (rest.startsWith('"')) rest = rest.slice(1)
  const m = /^[^ :"]*/.exec(rest)
  return m ? m[0] : ''
}

function sortRulesByService(rules: string[], lastRuleMarker: boolean): string[] {
  const keyed = rules.map((r, i) => ({ r, i, name: serviceNameOf(r), last: lastRuleMarker && r.includes('must be the last rule') }))
  keyed.sort((a, b) => {
    if (a.last !== b.last) return a.last ? 1 : -1
    if (a.name !== null && b.name !== null && a.name !== b.name) return byteCmp(a.name, b.name)
    return a.i - b.i
  })
  return keyed.map((k) => k.r)
}

function sortTable(t: Table): void {
  t.chains.sort((a, b) => chainRank(a.name) - chainRank(b.name) || byteCmp(a.name, b.name))
  for (const c of t.chains) {
    if (c.name === 'KUBE-NODEPORTS') c.rules = sortRulesByService(c.rules, false)
    else if (c.name === 'KUBE-SERVICES') c.rules = sortRulesByService(c.rules, t.name === 'nat')
  }
}

export function serialiseRestore(tables: Table[]): string {
  let out = ''
  for (const t of tables) {
    out += `*${t.name}\n`
    for (const c of t.chains) out += c.line + '\n'
    for (const c of t.chains) for (const r of c.rules) out += r + '\n'
    for (const c of t.chains) if (c.deleted) out += `-X ${c.name}\n`
    out += 'COMMIT\n'
  }
  return out
}

/** Parse, sort and re-serialise, as upstream's assertIPTablesRulesEqual does before comparing. */
export function normaliseRestore(text: string): string {
  const tables = parseRestore(text)
  tables.sort((a, b) => byteCmp(a.name, b.name))
  for (const t of tables) sortTable(t)
  return serialiseRestore(tables)
}
