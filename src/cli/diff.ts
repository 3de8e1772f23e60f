/**
 * `natplan diff FROM [TO]`: what changed between two versions (GET /v1/clusters/C/diff), as a
 * summary line, a table of the changed Services per family, and the unified diff of the
 * normalised scripts. `--node` follows one node across versions; `--from-node`/`--to-node`
 * compare two nodes (of one version when TO is left out). `--json`/`-o`: the JSON answer as sent.
 */
import type { DiffSummary } from '../planner/analysis/diff.js'
import { parseArgs } from 'node:util'
import type { Client } from './client.js'
import { connect, serverOptions, versionArg } from './connect.js'
import { oneOf, UsageError, type Io } from './io.js'
import { namespaceOf, nonZero, outputFormat, outputOptions, printAnswer, table } from './output.js'

export const diffUsage = `  natplan diff --url URL --cluster NAME [--token T] [--node N | --from-node A --to-node B] [--family IPv4|IPv6]
                      [--namespace NS] [--json | -o json|yaml] FROM [TO]
`

export const diffOptions = {
  ...serverOptions,
  ...outputOptions,
  node: { type: 'string' },
  'from-node': { type: 'string' },
  'to-node': { type: 'string' },
  family: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
} as const

interface TableDiff {
  chainsAdded: string[]
  chainsRemoved: string[]
  chainsChanged: Array<{ chain: string; rulesAdded: string[]; rulesRemoved: string[] }>
}

// The server's types of the answer's parts (the CLI ships in the same package).
export type { DiffSummary }

/** The answer of GET …/diff?format=json (src/api/rest/history/schemas.ts, JsonDiff). */
export interface DiffAnswer {
  cluster: string
  from: number
  to: number
  identical: boolean
  fromNode?: string
  toNode?: string
  summary: DiffSummary
  families: Array<{
    family: 'IPv4' | 'IPv6'
    summary: DiffSummary
    tables: { filter: TableDiff; nat: TableDiff }
    services: Array<{ service: string; protocol?: string; key: string; change: 'added' | 'removed' | 'changed'; rulesAdded: number; rulesRemoved: number }>
  }>
}

export interface DiffQuery {
  from: string
  to: string
  fromNode?: string
  toNode?: string
}

export function fetchDiff(client: Client, cluster: string, q: DiffQuery): Promise<DiffAnswer> {
  return client.json<DiffAnswer>('GET', `v1/clusters/${encodeURIComponent(cluster)}/diff`, { query: { ...q, format: 'json' } })
}

/** "services 2 added, 1 changed; rules 40 added, 12 removed", or what did not change. */
export function diffSummaryLine(s: DiffSummary): string {
  const services = nonZero(
    [
      [s.servicesAdded, 'added'],
      [s.servicesRemoved, 'removed'],
      [s.servicesChanged, 'changed'],
    ],
    '',
  )
  const chains = nonZero(
    [
      [s.chainsAdded, 'added'],
      [s.chainsRemoved, 'removed'],
      [s.chainsChanged, 'changed'],
    ],
    '',
  )
  const rules = nonZero(
    [
      [s.rulesAdded, 'added'],
      [s.rulesRemoved, 'removed'],
    ],
    '',
  )
  const parts = [services && `services ${services}`, chains && `chains ${chains}`, rules && `rules ${rules}`].filter(Boolean)
  return parts.length > 0 ? parts.join('; ') : 'no rule changed'
}

export async function diffCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: diffOptions })
  const { client, cluster } = connect(values, io, 'diff')
  const format = outputFormat(values)
  const family = oneOf(values.family, ['IPv4', 'IPv6'] as const, 'family')
  if (values.node !== undefined && (values['from-node'] !== undefined || values['to-node'] !== undefined))
    throw new UsageError('--node is --from-node and --to-node at once: give one or the others')
  const fromNode = values.node ?? values['from-node']
  const toNode = values.node ?? values['to-node']
  if (positionals.length === 0 || positionals.length > 2) throw new UsageError('diff takes FROM and TO versions (numbers or latest)')
  const from = versionArg(positionals[0], 'FROM')
  // Two nodes and one version: those two nodes of that version.
  const to = versionArg(positionals[1] ?? (fromNode !== toNode ? from : undefined), 'TO')
  const query = { from, to, fromNode, toNode }
  const answer = await fetchDiff(client, cluster, query)
  if (format !== 'text') {
    printAnswer(io, format, answer, () => '')
    return 0
  }
  const families = family ? answer.families.filter((f) => f.family === family) : answer.families
  let out = `${diffHeading(answer)}: ${answer.identical ? 'identical plans' : diffSummaryLine(answer.summary)}\n`
  for (const f of families) {
    const rows = f.services
      .filter((s) => values.namespace === undefined || namespaceOf(s.service) === values.namespace)
      .map((s) => [s.service, s.protocol ?? '', s.change, s.rulesAdded, s.rulesRemoved])
    if (f.services.length === 0) continue
    // Dual-stack: each family's own counts; one family's are the heading's.
    out += answer.families.length > 1 ? `\n${f.family}: ${diffSummaryLine(f.summary)}\n` : '\n'
    out += rows.length > 0 ? table(['service', 'protocol', 'change', 'rules added', 'rules removed'], rows) : `no change in namespace ${values.namespace}\n`
  }
  io.stdout.write(out)
  if (answer.identical) return 0
  if (values.namespace !== undefined) {
    // The unified diff is of whole scripts; cut to one namespace it would mislead.
    io.stdout.write(`\n(the unified diff covers every namespace: leave out --namespace to see it)\n`)
    return 0
  }
  for (const f of families) {
    if (f.services.length === 0) continue
    const response = await client.request('GET', `v1/clusters/${encodeURIComponent(cluster)}/diff`, {
      query: { ...query, format: 'unified', family: f.family },
      accept: 'text/x-diff, application/problem+json',
    })
    io.stdout.write(`\n${await response.text()}`)
  }
  return 0
}

/** `prod: version 6 → 7 (node-a)`, `prod: version 7, node-a → node-b`. */
export function diffHeading(d: Pick<DiffAnswer, 'cluster' | 'from' | 'to' | 'fromNode' | 'toNode'>): string {
  const versions = d.from === d.to ? `version ${d.from}` : `version ${d.from} → ${d.to}`
  const nodes =
    d.fromNode === d.toNode ? (d.fromNode ? ` (${d.fromNode})` : '') : `, ${d.fromNode ?? "the version's node"} → ${d.toNode ?? "the version's node"}`
  return `${d.cluster}: ${versions}${nodes}`
}
