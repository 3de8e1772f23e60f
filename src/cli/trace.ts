/**
 * `natplan trace --dst IP --dport P`: a new connection walked through a stored version's plan
 * (POST …/versions/V[/nodes/N]/trace, upstream's tracePacket): the rules it matches chain by chain
 * as a table, the endpoints it may reach, masquerade and the verdict.
 */
import { parseArgs } from 'node:util'
import { versionPath } from './client.js'
import { connect, serverOptions, versionArg } from './connect.js'
import { oneOf, UsageError, type Io } from './io.js'
import { outputFormat, outputOptions, printAnswer, table } from './output.js'

export const traceUsage = `  natplan trace --url URL --cluster NAME [--token T] [--version V] [--node N] --dst IP --dport PORT
                      [--proto tcp|udp|sctp] [--src IP] [--node-address IP ...] [--json | -o json|yaml]
`

export const traceOptions = {
  ...serverOptions,
  ...outputOptions,
  version: { type: 'string' },
  node: { type: 'string' },
  dst: { type: 'string' },
  dport: { type: 'string' },
  proto: { type: 'string' },
  src: { type: 'string' },
  'node-address': { type: 'string', multiple: true },
} as const

/**
 * Without --src the connection comes from outside the cluster: a documentation address
 * (RFC 5737 TEST-NET-3, RFC 3849), which no cluster CIDR or node owns.
 */
const OUTSIDE = { IPv4: '203.0.113.1', IPv6: '2001:db8::1' }

/** The answer of POST …/trace (src/api/rest/inspect/index.ts, TraceResponse). */
export interface TraceAnswer {
  cluster: string
  version: number
  family: 'IPv4' | 'IPv6'
  packet: { source: string; destination: string; port: number; protocol: string }
  nodeAddresses: string[]
  rulesMatched: Array<{ table: 'filter' | 'nat'; chain: string; rule: string }>
  endpoints: Array<{ endpoint: string; probability: number }>
  masqueraded: boolean
  verdict: 'DNAT' | 'DROP' | 'REJECT' | 'ACCEPT' | 'NONE'
  output: string
}

export async function traceCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: traceOptions })
  const { client, cluster } = connect(values, io, 'trace')
  const format = outputFormat(values)
  if (positionals.length > 0) throw new UsageError(`trace takes no arguments, only flags (got "${positionals[0]}")`)
  if (!values.dst) throw new UsageError('trace needs --dst IP (a cluster IP, external IP, load-balancer IP or node IP)')
  if (!values.dport) throw new UsageError('trace needs --dport PORT')
  const port = Number(values.dport)
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--dport must be a port, 1..65535, got "${values.dport}"`)
  const protocol = oneOf(values.proto, ['tcp', 'udp', 'sctp'] as const, 'proto') ?? 'tcp'
  const body = {
    source: values.src ?? (values.dst.includes(':') ? OUTSIDE.IPv6 : OUTSIDE.IPv4),
    destination: values.dst,
    port,
    protocol,
    ...(values['node-address'] && { nodeAddresses: values['node-address'] }),
  }
  const path = `${versionPath(cluster, versionArg(values.version, '--version'), values.node)}/trace`
  const answer = await client.json<TraceAnswer>('POST', path, { body: JSON.stringify(body), contentType: 'application/json' })
  printAnswer(io, format, answer, () => traceText(answer, values.node))
  return 0
}

export function traceText(t: TraceAnswer, node?: string): string {
  const p = t.packet
  const to = p.destination.includes(':') ? `[${p.destination}]:${p.port}` : `${p.destination}:${p.port}`
  let out = `${t.cluster}: version ${t.version}${node ? ` (${node})` : ''}, ${t.family} ${p.protocol} ${p.source} → ${to}: ${t.verdict}${t.masqueraded ? ', masqueraded' : ''}\n`
  out +=
    t.rulesMatched.length > 0
      ? table(
          ['table', 'chain', 'rule'],
          t.rulesMatched.map((r) => [r.table, r.chain, r.rule]),
        )
      : 'no rule matched\n'
  if (t.endpoints.length > 0) {
    out +=
      '\n' +
      table(
        ['endpoint', 'share'],
        t.endpoints.map((e) => [e.endpoint, `${(e.probability * 100).toFixed(1)}%`]),
      )
  }
  return out
}
