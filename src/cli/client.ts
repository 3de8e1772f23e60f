/**
 * The natplan server as the CLI sees it: one place that builds URLs under `--url`, sends the
 * bearer token (`--token`, else NATPLAN_TOKEN), and turns a problem+json answer into an
 * ApiError whose message lists the fields it points at. `push`, `watch` and the kubectl plugin
 * all talk to the server through here.
 */
import { jsonText } from './io.js'

export interface ClientOptions {
  url: string
  token?: string
}

/** The server answered with an error status; `message` is the problem's detail and its errors[]. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly statusText: string,
    readonly body: string,
    /** The answer's Retry-After in seconds (natplan sends it with 503 and 429), else null. */
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(`${status} ${statusText}\n${formatProblem(body)}`)
  }
}

/** Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3), in seconds from `now`; null when absent or unreadable. */
export function retryAfterSeconds(header: string | null, now = Date.now()): number | null {
  if (header === null || header.trim() === '') return null
  const text = header.trim()
  if (/^\d+$/.test(text)) return Number(text)
  const at = Date.parse(text)
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000))
}

interface TableCounts {
  chains: number
  rules: number
}

/** The answer of POST …/snapshots (src/api/rest/schemas.ts, IngestResponse). */
export interface PushAnswer {
  created: boolean
  version: {
    cluster: string
    version: number
    counts: {
      services: number
      servicePorts: number
      endpoints: number
      ignoredObjects: number
      families: Partial<Record<'IPv4' | 'IPv6', { filter: TableCounts; nat: TableCounts }>>
      scriptBytes: number
      nodes?: { count: number; variants: number; defaultNode: string | null; defaulted: string[] }
    }
    warnings: Array<{ code: string; message: string; pointer?: string }>
  }
}

export class Client {
  private readonly base: string
  constructor(private readonly opts: ClientOptions) {
    this.base = opts.url.endsWith('/') ? opts.url : opts.url + '/'
  }

  /** `path` is relative to the server's root, e.g. `v1/clusters/prod/versions`. */
  url(path: string, query: Record<string, string | number | boolean | undefined> = {}): URL {
    const target = new URL(path, this.base)
    for (const [key, value] of Object.entries(query)) if (value !== undefined) target.searchParams.set(key, String(value))
    return target
  }

  async request(
    method: string,
    path: string,
    init: { query?: Record<string, string | number | boolean | undefined>; body?: string; contentType?: string; accept?: string } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: init.accept ?? 'application/json, application/problem+json' }
    if (init.contentType) headers['content-type'] = init.contentType
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`
    const response = await fetch(this.url(path, init.query), { method, headers, body: init.body })
    if (!response.ok) throw new ApiError(response.status, response.statusText, await response.text(), retryAfterSeconds(response.headers.get('retry-after')))
    return response
  }

  async json<T>(method: string, path: string, init: Parameters<Client['request']>[2] = {}): Promise<T> {
    return (await (await this.request(method, path, init)).json()) as T
  }

  /**
   * POST a snapshot as the bytes it was given (YAML stays YAML; JSON documents one after another
   * become one array of them), so the server's errors point into what the user sent.
   */
  async pushSnapshot(cluster: string, text: string, proxy: Record<string, unknown> = {}): Promise<PushAnswer> {
    const json = jsonText(text)
    const query: Record<string, string> = {}
    for (const [key, value] of Object.entries(proxy)) query[key] = Array.isArray(value) ? value.join(',') : String(value)
    return this.json<PushAnswer>('POST', `v1/clusters/${encodeURIComponent(cluster)}/snapshots`, {
      query,
      body: json ?? text,
      contentType: json === null ? 'application/yaml' : 'application/json',
    })
  }
}

export function formatProblem(body: string): string {
  try {
    const p = JSON.parse(body) as { detail?: string; errors?: Array<{ pointer: string; detail: string }> }
    const lines = [p.detail ?? body, ...(p.errors ?? []).map((e) => `  ${e.pointer || '/'}: ${e.detail}`)]
    return lines.join('\n') + '\n'
  } catch {
    return body + '\n'
  }
}

/**
 * `v1/clusters/C/versions/V`, or `…/nodes/N` for one node: without a node the one-node routes
 * answer for the version's node (400 when it has many and names none).
 */
export function versionPath(cluster: string, version: string, node?: string): string {
  const base = `v1/clusters/${encodeURIComponent(cluster)}/versions/${encodeURIComponent(version)}`
  return node === undefined ? base : `${base}/nodes/${encodeURIComponent(node)}`
}
