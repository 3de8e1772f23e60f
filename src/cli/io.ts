/**
 * What every natplan command shares: its streams and environment (injected, so tests can run a
 * command in-process), usage errors (exit 2), reading FILE or stdin, and telling JSON from YAML.
 */
import { readFile } from 'node:fs/promises'
import { parse as parseYamlDoc } from 'yaml'
import { parseYaml } from '../plugins/app/yaml.js'

/** A mistake in the command line: printed with the usage, exit code 2. */
export class UsageError extends Error {}

export interface Io {
  stdin: NodeJS.ReadableStream
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  env: NodeJS.ProcessEnv
}

export async function readInput(source: string | undefined, io: Io): Promise<string> {
  if (source === undefined || source === '-') {
    const chunks: Buffer[] = []
    for await (const chunk of io.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer))
    return Buffer.concat(chunks).toString('utf8')
  }
  return readFile(source, 'utf8')
}

/** JSON when it parses as JSON, otherwise YAML (JSON is YAML, but JSON.parse is faster and stricter). */
export function parseDocument(text: string): { document: unknown; format: 'json' | 'yaml' } {
  const json = jsonDocument(text)
  if (json !== null) return { document: json.value, format: 'json' }
  return { document: parseYaml(text), format: 'yaml' }
}

/** jsonText's answer with the value it parsed (a 10k-service file is not parsed twice). */
function jsonDocument(text: string): { text: string; value: unknown } | null {
  try {
    return { text, value: JSON.parse(text) }
  } catch {
    // maybe a sequence
  }
  const joined = jsonSequence(text)
  if (joined === null) return null
  try {
    return { text: joined, value: JSON.parse(joined) }
  } catch {
    return null
  }
}

/**
 * The text as one JSON document: itself, or — for several JSON documents one after another, as
 * `{ kubectl get … -o json; kubectl get … -o json; }` prints them — an array of them (the
 * server takes an array of documents). null when it is not JSON.
 */
export function jsonText(text: string): string | null {
  return jsonDocument(text)?.text ?? null
}

/** Several JSON documents one after another, as one JSON array's text (not yet parsed); null when they are not. */
function jsonSequence(text: string): string | null {
  const docs: string[] = []
  let depth = 0
  let inString = false
  let start = -1
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (inString) {
      if (c === '\\') i++
      else if (c === '"') inString = false
      continue
    }
    if (c === '"') inString = true
    else if (c === '{' || c === '[') {
      if (depth++ === 0) start = i
    } else if (c === '}' || c === ']') {
      if (--depth === 0) docs.push(text.slice(start, i + 1))
      if (depth < 0) return null
    } else if (depth === 0 && !/\s/.test(c)) return null
  }
  if (depth !== 0 || docs.length < 2) return null
  return `[${docs.join(',')}]`
}

/** `--proxy nodeName=a --proxy masqueradeAll=true`: values are YAML scalars (numbers, booleans, lists). */
export function parseProxyFlags(flags: string[] | undefined): Record<string, unknown> | undefined {
  if (!flags || flags.length === 0) return undefined
  const out: Record<string, unknown> = {}
  for (const flag of flags) {
    const eq = flag.indexOf('=')
    if (eq <= 0) throw new UsageError(`--proxy expects key=value, got "${flag}"`)
    const key = flag.slice(0, eq)
    const raw = flag.slice(eq + 1)
    const csvKeys = ['nodeIPs', 'nodePortAddresses', 'ipFamilies']
    out[key] = csvKeys.includes(key)
      ? raw
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : parseYamlDoc(raw)
  }
  return out
}

export function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], flag: string): T | undefined {
  if (value === undefined) return undefined
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}`)
  return value as T
}
