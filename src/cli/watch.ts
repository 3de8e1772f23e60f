/**
 * `natplan watch`: a live feed. Reads kubectl watch streams (stdin, files, FIFOs, `<(…)`), keeps
 * the cluster's state from their events (src/watch/state.ts) and pushes it as a snapshot once the
 * streams have been quiet for a while, at most a maximum delay after the first change
 * (src/watch/debounce.ts). Bad input is reported on stderr and skipped; a push the server could
 * not take now (down, busy, 5xx) is retried with backoff while reading goes on; a refused one
 * (4xx) is reported and the next change is pushed. At the end of every input, or on SIGTERM or
 * SIGINT, what is pending is pushed: exit 0, or 1 when that last push failed.
 */
import { createReadStream, fstat, open } from 'node:fs'
import { stat } from 'node:fs/promises'
import { Socket } from 'node:net'
import type { Readable } from 'node:stream'
import { promisify } from 'node:util'
import { parseArgs } from 'node:util'
import { ApiError, Client, type PushAnswer } from './client.js'
import { parseDocument, parseProxyFlags, readInput, UsageError, type Io } from './io.js'
import { Debouncer, systemClock, type Clock } from '../watch/debounce.js'
import { WatchStreamParser, type StreamItem } from '../watch/events.js'
import { ClusterState, READ_KINDS, type ApplyResult, type Removed } from '../watch/state.js'

/** Backoff of a push the server could not take: 0.5 s, doubling, at most 30 s. */
const BACKOFF_FIRST_MS = 500
const BACKOFF_MAX_MS = 30_000
/** Attempts of the last push, at the end of input, before giving up with exit 1. */
const FINAL_ATTEMPTS = 5

export const watchUsage = `  natplan watch --url URL --cluster NAME [--token T] [--proxy key=value ...] [--config FILE] [--quiet-period 2s] [--max-delay 30s] [--json] [FILE|- ...]\n`

/** `500ms`, `2s`, `1m`, or a bare number of seconds. */
export function parseDuration(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim())
  if (!m) throw new UsageError(`--${flag} must be a duration like 500ms, 2s or 1m`)
  const n = Number(m[1])
  return Math.round(m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000)
}

function backoff(failures: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.max(0, failures - 1))
}

/** The wait before the next try: the backoff, or longer when the server's Retry-After asks (still at most the backoff's cap). */
export function retryDelay(failures: number, err: unknown): number {
  const asked = err instanceof ApiError && err.retryAfterSeconds !== null ? err.retryAfterSeconds * 1000 : 0
  return Math.min(BACKOFF_MAX_MS, Math.max(backoff(failures), asked))
}

/** Down, busy or failing now, worth another try: no answer, 408, 429, 5xx. */
function transient(err: unknown): boolean {
  if (err instanceof ApiError) return err.status >= 500 || err.status === 408 || err.status === 429
  return err instanceof TypeError || (err as NodeJS.ErrnoException).code !== undefined
}

function failure(err: unknown): string {
  if (err instanceof ApiError) return err.message.trimEnd().replace(/\n/g, ' ')
  const cause = (err as Error).cause as Error | undefined
  return cause?.message ?? (err as Error).message
}

const n = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`

/** `prod v4 created: 3 services, 4 endpoints, 3 nodes, no warnings`. */
function pushLine(cluster: string, answer: PushAnswer): string {
  const v = answer.version
  const c = v.counts
  const warnings = v.warnings
  const codes = [...new Set(warnings.map((w) => w.code))].join(', ')
  return (
    `${cluster} v${v.version} ${answer.created ? 'created' : 'unchanged (the server had this content)'}: ` +
    `${n(c.services, 'service')}, ${n(c.endpoints, 'endpoint')}, ${n(c.nodes?.count ?? 1, 'node')}, ` +
    `${warnings.length === 0 ? 'no warnings' : `${n(warnings.length, 'warning')} (${codes})`}\n`
  )
}

/**
 * A FIFO or pipe (`<(kubectl …)` is /dev/fd/N) is read as a socket, through libuv's non-blocking
 * pipe handle: a file stream would read it with blocking reads on the thread pool, which cannot
 * be given up at SIGTERM while the writer is silent, so the process would never exit.
 */
async function openInput(path: string): Promise<Readable> {
  const fd = await promisify(open)(path, 'r')
  const s = await promisify(fstat)(fd)
  if (s.isFIFO() || s.isSocket()) return new Socket({ fd, readable: true, writable: false })
  return createReadStream('', { fd })
}

export interface WatchDeps {
  clock?: Clock
  /** Where SIGTERM and SIGINT come from (the process). */
  signals?: Pick<NodeJS.Process, 'once' | 'off'>
}

export async function watchCommand(args: string[], io: Io, deps: WatchDeps = {}): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      cluster: { type: 'string' },
      token: { type: 'string' },
      proxy: { type: 'string', multiple: true },
      config: { type: 'string' },
      'quiet-period': { type: 'string', default: '2s' },
      'max-delay': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  })
  if (!values.url) throw new UsageError('watch needs --url (e.g. http://127.0.0.1:8080)')
  if (!values.cluster) throw new UsageError('watch needs --cluster NAME')
  const quietMs = parseDuration(values['quiet-period'], 'quiet-period')
  // Default 30 s, or the quiet period when that is longer.
  const maxDelayMs = values['max-delay'] === undefined ? Math.max(30_000, quietMs) : parseDuration(values['max-delay'], 'max-delay')
  if (maxDelayMs < quietMs) throw new UsageError('--max-delay must not be shorter than --quiet-period')
  const sources = positionals.length > 0 ? positionals : ['-']
  if (sources.filter((s) => s === '-').length + (values.config === '-' ? 1 : 0) > 1) throw new UsageError('watch reads stdin (-) once')
  for (const s of sources) if (s !== '-') await stat(s) // a missing file is a usage error (exit 2), before anything runs
  const proxy = parseProxyFlags(values.proxy) ?? {}
  const cluster = values.cluster
  const client = new Client({ url: values.url, token: values.token ?? io.env.NATPLAN_TOKEN })
  const clock = deps.clock ?? systemClock
  const signals = deps.signals ?? process
  const state = new ClusterState()

  const report = (where: string, detail: string) => io.stderr.write(`natplan watch: ${where}: ${detail}\n`)
  const reportRemoved = (removed: Removed[]) => {
    for (const r of removed)
      report(
        r.source,
        `removed ${r.keys.length} ${r.kind} not listed again after kubectl restarted: ${r.keys.map((k) => k.split('/').slice(1).join('/').replace(/^\//, '')).join(', ')}`,
      )
  }

  if (values.config !== undefined) {
    const { document } = parseDocument(await readInput(values.config, io))
    const d = document as { items?: unknown }
    const objects = Array.isArray(document) ? document : Array.isArray(d?.items) ? d.items : [document]
    for (const o of objects) {
      const r = typeof o === 'object' && o !== null ? state.put(o as Record<string, unknown>, values.config) : null
      if (!r) report(values.config, 'not a Kubernetes object, skipped')
      else if (r.outcome === 'skipped') report(values.config, r.detail)
    }
  }
  let everHeld = state.size > 0

  // --- pushing -------------------------------------------------------------------------------
  let lastPushed: string | null = null
  let lastRefused: string | null = null
  let failures = 0
  let retryTimer: unknown = null
  let inFlight: Promise<unknown> | null = null
  let again = false

  /** One push of the current state (`final`: the attempt's number once the input has ended); what came of it. */
  async function attempt(final: number | false): Promise<'pushed' | 'same' | 'refused' | 'failed' | 'empty'> {
    reportRemoved(state.settle())
    const { text, sha256 } = state.snapshotText()
    if (sha256 === lastPushed) return 'same'
    if (sha256 === lastRefused) return 'refused'
    // Nothing was ever read: an empty List would be a version of a cluster without anything.
    if (!everHeld && state.size === 0) return 'empty'
    try {
      const answer = await client.pushSnapshot(cluster, text, proxy)
      lastPushed = sha256
      failures = 0
      io.stdout.write(values.json ? JSON.stringify(answer) + '\n' : pushLine(cluster, answer))
      return 'pushed'
    } catch (err) {
      if (!transient(err)) {
        if (!(err instanceof ApiError)) throw err
        lastRefused = sha256
        report('push', `refused, not retried (the next change is pushed): ${failure(err)}`)
        return 'refused'
      }
      failures++
      const wait = retryDelay(failures, err)
      if (final) report('push', `failed (${failures}): ${failure(err)}; the input has ended: last push, attempt ${final} of ${FINAL_ATTEMPTS}`)
      else {
        report('push', `failed (${failures}): ${failure(err)}; the state is kept, retrying in ${wait / 1000}s`)
        retryTimer = clock.setTimeout(() => {
          retryTimer = null
          requestPush()
        }, wait)
      }
      return 'failed'
    }
  }

  /** Push now, unless a push is under way (then once more after it) or a retry is waiting (it pushes the latest state). */
  function requestPush(): void {
    if (retryTimer !== null) return
    if (inFlight) {
      again = true
      return
    }
    inFlight = (async () => {
      do {
        again = false
        if ((await attempt(false)) === 'failed') break
      } while (again)
    })()
      .catch((err: unknown) => report('push', `failed: ${(err as Error).message}`))
      .finally(() => (inFlight = null))
  }

  const debouncer = new Debouncer({ quietMs, maxDelayMs, clock }, requestPush)

  // --- reading -------------------------------------------------------------------------------
  const unknownKinds = new Map<string, number>()
  function handle(source: string, items: StreamItem[]): void {
    for (const item of items) {
      if ('problem' in item) {
        report(`${source}:${item.problem.line}`, item.problem.detail)
        if (item.problem.broken) state.streamBroke(source)
        continue
      }
      const r: ApplyResult = state.apply(item.event, source)
      reportRemoved(state.takeRemoved())
      const at = `${source}:${item.event.line}`
      if (r.outcome === 'error') report(at, `the watch ended with an ERROR event: ${r.detail} (kubectl exits; started again, it lists everything again)`)
      else if (r.outcome === 'skipped') {
        const known = r.kind !== undefined && !(READ_KINDS as readonly string[]).includes(r.kind)
        const seen = known ? (unknownKinds.get(`${source}\0${r.kind}`) ?? 0) + 1 : 1
        if (known) unknownKinds.set(`${source}\0${r.kind}`, seen)
        if (seen === 1) report(at, `${r.detail}; skipped${known ? ` (further ${r.kind} events of ${source} are skipped unreported)` : ''}`)
      } else {
        if (state.size > 0) everHeld = true
        debouncer.touch()
      }
    }
  }

  const streams: Readable[] = []
  async function read(source: string): Promise<void> {
    const stream = source === '-' ? (io.stdin as Readable) : await openInput(source)
    streams.push(stream)
    if (stopping) stream.destroy()
    const name = source === '-' ? 'stdin' : source
    const parser = new WatchStreamParser()
    stream.setEncoding('utf8')
    try {
      for await (const chunk of stream) handle(name, parser.push(chunk as string))
    } catch (err) {
      if (!stopping) report(name, `cannot read: ${(err as Error).message}`)
    }
    handle(name, parser.end())
  }

  let stopping = false
  let stop: () => void = () => {}
  const stopped = new Promise<void>((resolve) => (stop = resolve))
  const onSignal = () => {
    stopping = true
    stop()
  }
  signals.once('SIGTERM', onSignal)
  signals.once('SIGINT', onSignal)
  try {
    await Promise.race([Promise.all(sources.map(read)), stopped])
    stopping = true
    for (const s of streams) s.destroy()
  } finally {
    signals.off('SIGTERM', onSignal)
    signals.off('SIGINT', onSignal)
  }

  // --- the end: push what is pending ------------------------------------------------------------
  debouncer.cancel()
  if (retryTimer !== null) clock.clearTimeout(retryTimer)
  retryTimer = null
  while (inFlight) await inFlight
  failures = 0 // the last push's own backoff: 0.5, 1, 2, 4 s
  for (let i = 1; i <= FINAL_ATTEMPTS; i++) {
    const r = await attempt(i)
    if (r === 'pushed' || r === 'same' || r === 'empty') return 0
    if (r === 'refused') return 1
    if (i < FINAL_ATTEMPTS) await new Promise<void>((resolve) => clock.setTimeout(resolve, backoff(failures)))
  }
  report('push', `gave up after ${FINAL_ATTEMPTS} attempts: the last state was not stored`)
  return 1
}
