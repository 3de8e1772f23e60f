/**
 * `natplan drift FILE|-`: a node's `iptables-save` output compared with a stored version's plan
 * (POST …/versions/V[/nodes/N]/drift, text/plain): one table row per stale, missing or changed
 * chain with its Service, then the settings the node's rules show otherwise and the lines that
 * could not be read.
 */
import type { DriftReport } from '../planner/analysis/drift.js'
import { parseArgs } from 'node:util'
import { versionPath } from './client.js'
import { connect, serverOptions, versionArg } from './connect.js'
import { oneOf, readInput, UsageError, type Io } from './io.js'
import { namespaceOf, nonZero, outputFormat, outputOptions, printAnswer, table } from './output.js'

export const driftUsage = `  natplan drift --url URL --cluster NAME [--token T] [--version V] [--node N] [--family IPv4|IPv6]
                      [--namespace NS] [--json | -o json|yaml] FILE|-
`

export const driftOptions = {
  ...serverOptions,
  ...outputOptions,
  version: { type: 'string' },
  node: { type: 'string' },
  family: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
} as const

interface WholeChain {
  chain: string
  service?: string
  rules: number
}
interface TableDrift {
  staleChains: WholeChain[]
  missingChains: WholeChain[]
  changedChains: Array<{ chain: string; service?: string; staleRules: unknown[]; missingRules: unknown[]; unverifiedRules?: unknown[] }>
}

/** The answer of POST …/drift (src/api/rest/inspect/index.ts, DriftResponse), the parts printed. */
export interface DriftAnswer {
  cluster: string
  version: number
  family: 'IPv4' | 'IPv6'
  inSync: boolean
  summary: DriftReport['summary']
  settings: { mismatches: Array<{ setting: string; told: string; node: string; fix: string }> }
  tables: { filter: TableDrift; nat: TableDrift }
  unreadable: Array<{ line: number; text: string; detail: string }>
}

export async function driftCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: driftOptions })
  const { client, cluster } = connect(values, io, 'drift')
  const format = outputFormat(values)
  const family = oneOf(values.family, ['IPv4', 'IPv6'] as const, 'family')
  if (positionals.length !== 1) throw new UsageError("drift takes one FILE (the node's iptables-save output, or - for stdin)")
  const save = await readInput(positionals[0], io)
  const path = `${versionPath(cluster, versionArg(values.version, '--version'), values.node)}/drift`
  const answer = await client.json<DriftAnswer>('POST', path, { query: { family }, body: save, contentType: 'text/plain; charset=utf-8' })
  printAnswer(io, format, answer, () => driftText(answer, { node: values.node, namespace: values.namespace }))
  return 0
}

export function driftText(d: DriftAnswer, opts: { node?: string; namespace?: string } = {}): string {
  const s = d.summary
  const findings = nonZero([
    [s.staleChains, s.staleChains === 1 ? 'stale chain' : 'stale chains'],
    [s.missingChains, s.missingChains === 1 ? 'missing chain' : 'missing chains'],
    [s.changedChains, s.changedChains === 1 ? 'changed chain' : 'changed chains'],
    [s.staleRules, s.staleRules === 1 ? 'stale rule' : 'stale rules'],
    [s.missingRules, s.missingRules === 1 ? 'missing rule' : 'missing rules'],
    [s.settingsMismatches, s.settingsMismatches === 1 ? 'setting differs' : 'settings differ'],
    [s.unreadableLines, s.unreadableLines === 1 ? 'unreadable line' : 'unreadable lines'],
  ])
  let out = `${d.cluster}: version ${d.version}${opts.node ? ` (${opts.node})` : ''}, ${d.family}: ${d.inSync ? 'in sync' : `drifted: ${findings}`}\n`
  const rows: Array<Array<string | number>> = []
  for (const name of ['nat', 'filter'] as const) {
    const t = d.tables[name]
    for (const c of t.staleChains) rows.push([name, c.chain, c.service ?? '', 'stale', c.rules, 0])
    for (const c of t.missingChains) rows.push([name, c.chain, c.service ?? '', 'missing', 0, c.rules])
    for (const c of t.changedChains) rows.push([name, c.chain, c.service ?? '', 'changed', c.staleRules.length, c.missingRules.length])
  }
  const shown = opts.namespace === undefined ? rows : rows.filter((r) => namespaceOf(r[2] as string) === opts.namespace)
  if (shown.length > 0) out += '\n' + table(['table', 'chain', 'service', 'finding', 'stale rules', 'missing rules'], shown)
  else if (rows.length > 0) out += `\nno finding in namespace ${opts.namespace}\n`
  if (d.settings.mismatches.length > 0) {
    out +=
      '\n' +
      table(
        ['setting', 'told', 'node', 'fix'],
        d.settings.mismatches.map((m) => [m.setting, m.told, m.node, m.fix]),
      )
  }
  if (d.unreadable.length > 0)
    out +=
      '\n' +
      table(
        ['line', 'unreadable', 'why'],
        d.unreadable.map((u) => [u.line, u.text, u.detail]),
      )
  return out
}
