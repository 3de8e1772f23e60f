/**
 * How the commands print: a human summary and tables by default, or the server's answer as it
 * came (`--json`, `-o json`) or as YAML (`-o yaml`), so scripts read exactly what the API says.
 */
import { stringify as yamlStringify } from 'yaml'
import { oneOf, UsageError, type Io } from './io.js'

export type OutputFormat = 'text' | 'json' | 'yaml'

/** The flags every server command takes for its output (parseArgs options). */
export const outputOptions = {
  output: { type: 'string', short: 'o' },
  json: { type: 'boolean' },
} as const

/** `--json` is `-o json`; both given must agree. */
export function outputFormat(values: { output?: string; json?: boolean }): OutputFormat {
  const output = oneOf(values.output, ['text', 'json', 'yaml'] as const, 'output')
  if (values.json && output !== undefined && output !== 'json') throw new UsageError(`--json and --output ${output} exclude each other`)
  return values.json ? 'json' : (output ?? 'text')
}

/** The answer as JSON or YAML; `human` is only rendered for text. */
export function printAnswer(io: Io, format: OutputFormat, answer: unknown, human: () => string): void {
  if (format === 'json') io.stdout.write(JSON.stringify(answer, null, 2) + '\n')
  else if (format === 'yaml') io.stdout.write(yamlStringify(answer, { lineWidth: 0 }))
  else io.stdout.write(human())
}

/**
 * Columns as kubectl prints them: upper-case headers, cells left-aligned and padded by three
 * spaces, the last column not padded (staging/src/k8s.io/cli-runtime/pkg/printers/tabwriter.go:
 * tabwriter with padding 3). An empty cell prints as `<none>`, as kubectl's printers do.
 */
export function table(headers: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const cells = [headers.map((h) => h.toUpperCase()), ...rows.map((r) => r.map((c) => (c === '' ? '<none>' : typeof c === 'number' ? number(c) : c)))]
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('') + '\n').join('')
}

/** 1204 → "1,204": SREs read rule counts at a glance. */
export function number(n: number): string {
  return n.toLocaleString('en-US')
}

/** `count(1, 'service')` → "1 service", `count(3, 'service')` → "3 services". */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${number(n)} ${n === 1 ? singular : plural}`
}

/** Non-zero counts joined ("2 added, 1 removed"), or `none` when every count is zero. */
export function nonZero(parts: ReadonlyArray<[number, string]>, none = 'none'): string {
  const shown = parts.filter(([n]) => n !== 0).map(([n, what]) => `${number(n)} ${what}`)
  return shown.length > 0 ? shown.join(', ') : none
}

/** A warning as the CLI prints it on stderr. */
export function warningLine(prog: string, w: { code: string; message: string; pointer?: string }): string {
  return `${prog}: warning: ${w.code}: ${w.message}${w.pointer ? ` (${w.pointer})` : ''}\n`
}

/** `ns/name:port` → `ns`; the fixed parts (head, tail) have no namespace. */
export function namespaceOf(servicePortName: string | undefined): string | undefined {
  if (!servicePortName) return undefined
  const slash = servicePortName.indexOf('/')
  return slash > 0 ? servicePortName.slice(0, slash) : undefined
}
