/**
 * `natplan push [FILE|-]`: POST a snapshot (JSON or YAML, as given) and say what became of it —
 * the version, its counts, what changed since the version before, and the warnings (stderr).
 * `--json`/`-o`: the server's answer as it came, and nothing else is asked of the server.
 */
import { parseArgs } from 'node:util'
import { ApiError, type Client } from './client.js'
import { connect, serverOptions } from './connect.js'
import { diffSummaryLine, fetchDiff, type DiffAnswer } from './diff.js'
import { parseProxyFlags, readInput, UsageError, type Io } from './io.js'
import { count, number, outputFormat, outputOptions, printAnswer, warningLine } from './output.js'

export const pushUsage = `  natplan push --url URL --cluster NAME [--token T | env NATPLAN_TOKEN] [--proxy key=value ...] [--json | -o json|yaml] [FILE|-]
`

export const pushOptions = {
  ...serverOptions,
  ...outputOptions,
  proxy: { type: 'string', multiple: true },
} as const

import type { PushAnswer } from './client.js'

export type { PushAnswer } from './client.js'

export async function pushCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: pushOptions })
  const { client, cluster } = connect(values, io, 'push')
  const format = outputFormat(values)
  if (positionals.length > 1) throw new UsageError('push takes one FILE (or - for stdin)')
  const text = await readInput(positionals[0], io)
  const answer = await client.pushSnapshot(cluster, text, parseProxyFlags(values.proxy))
  if (format !== 'text') {
    printAnswer(io, format, answer, () => '')
    return 0
  }
  io.stdout.write(pushSummary(answer, answer.created ? await changesSince(client, answer) : undefined))
  for (const w of answer.version.warnings) io.stderr.write(warningLine('natplan', w))
  return 0
}

/**
 * The diff from the version before, of the node the counts are of (the version's node, else its
 * first — which the nodes route names). Undefined when there is none to compare with (the first
 * version, a pruned predecessor, a server without history): the summary then says nothing of it.
 */
async function changesSince(client: Client, answer: PushAnswer): Promise<DiffAnswer | undefined> {
  const { cluster, version, counts } = answer.version
  if (version <= 1) return undefined
  try {
    let node: string | undefined
    if (counts.nodes && counts.nodes.count > 1 && counts.nodes.defaultNode === null) {
      const list = await client.json<{ items: Array<{ name: string }> }>('GET', `v1/clusters/${encodeURIComponent(cluster)}/versions/${version}/nodes`)
      node = list.items[0]?.name
    }
    return await fetchDiff(client, cluster, { from: String(version - 1), to: String(version), fromNode: node, toNode: node })
  } catch (err) {
    if (err instanceof ApiError) return undefined
    throw err
  }
}

/**
 * prod: version 7 created: 3 services (3 ports), 6 endpoints, 3 nodes (3 distinct plans)
 *   IPv4: nat 52 rules in 21 chains, filter 9 rules in 5 chains; script 6,360 bytes
 *   changed since version 6 (worker-a): services 1 added; chains 3 added, 1 changed; rules 9 added
 */
export function pushSummary(answer: PushAnswer, diff?: DiffAnswer): string {
  const v = answer.version
  const c = v.counts
  if (!answer.created) return `${v.cluster}: unchanged, identical to version ${v.version} (nothing stored)\n`
  const nodes = c.nodes ? `, ${count(c.nodes.count, 'node')} (${count(c.nodes.variants, 'distinct plan')})` : ''
  let out = `${v.cluster}: version ${v.version} created: ${count(c.services, 'service')} (${count(c.servicePorts, 'port')}), ${count(c.endpoints, 'endpoint')}${nodes}\n`
  const whose = c.nodes && c.nodes.count > 1 ? (c.nodes.defaultNode ? ` on ${c.nodes.defaultNode}` : ' on its first node') : ''
  for (const [family, t] of Object.entries(c.families)) {
    if (!t) continue
    out += `  ${family}${whose}: nat ${count(t.nat.rules, 'rule')} in ${count(t.nat.chains, 'chain')}, filter ${count(t.filter.rules, 'rule')} in ${count(t.filter.chains, 'chain')}\n`
  }
  out += `  script ${number(c.scriptBytes)} bytes`
  if (c.ignoredObjects > 0) out += `; ${count(c.ignoredObjects, 'object')} of kinds natplan does not read, ignored`
  out += '\n'
  if (c.nodes && c.nodes.defaulted.length > 0) out += `  planned with kube-proxy's defaults for: ${c.nodes.defaulted.join(', ')}\n`
  if (diff) {
    const node = diff.fromNode ? ` (${diff.fromNode})` : ''
    out += `  changed since version ${diff.from}${node}: ${diff.identical ? 'no rule changed' : diffSummaryLine(diff.summary)}\n`
  }
  if (v.warnings.length > 0) out += `  ${count(v.warnings.length, 'warning')} (on stderr)\n`
  return out
}
