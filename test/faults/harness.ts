/**
 * Fault-test harness: a throwaway PostgreSQL of our own (initdb as user postgres under a temp
 * folder, its own port: the shared server is left alone) that can be stopped, started and
 * restarted, and the real natplan server as a child process (`node dist/src/server.js`), which
 * can be killed with SIGKILL. Requests go over real HTTP on loopback.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { freePort } from '../../src/db/embedded.js'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** PostgreSQL's own binaries of the machine (Debian: /usr/lib/postgresql/N/bin), or null. */
export function postgresBin(): string | null {
  const base = '/usr/lib/postgresql'
  if (!existsSync(base)) return null
  for (const v of readdirSync(base).sort().reverse()) if (existsSync(join(base, v, 'bin', 'pg_ctl'))) return join(base, v, 'bin')
  return null
}

/** Why the fault tests cannot run here, or '' when they can. */
export async function faultsUnavailable(): Promise<string> {
  if (process.getuid?.() !== 0) return 'not root (the throwaway PostgreSQL runs as user postgres)'
  if (!postgresBin()) return 'no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)'
  if (!existsSync(`${ROOT}dist/src/server.js`)) return 'dist/src/server.js is missing (npm run build)'
  try {
    await run('id', ['postgres'])
  } catch {
    return 'no postgres user'
  }
  return ''
}

export class ThrowawayPostgres {
  readonly dir = mkdtempSync(join(tmpdir(), 'natplan-fault-pg-'))
  port = 0

  get url(): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/postgres`
  }

  private pgctl(...args: string[]): Promise<unknown> {
    return run('runuser', ['-u', 'postgres', '--', join(postgresBin()!, 'pg_ctl'), '-D', join(this.dir, 'data'), ...args], { timeout: 60_000 })
  }

  async init(): Promise<void> {
    chmodSync(this.dir, 0o777)
    this.port = await freePort()
    await run('runuser', ['-u', 'postgres', '--', join(postgresBin()!, 'initdb'), '-D', join(this.dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync'], {
      timeout: 60_000,
    })
    await this.start()
  }

  start(): Promise<unknown> {
    // fsync off: a throwaway server; unix sockets in the temp dir, TCP on our own port only.
    return this.pgctl(
      '-w',
      '-l',
      join(this.dir, 'log'),
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60`,
      'start',
    )
  }

  /** Fast shutdown: open connections are terminated (clients see "terminating connection"). */
  stop(): Promise<unknown> {
    return this.pgctl('-w', '-m', 'fast', 'stop')
  }

  restart(): Promise<unknown> {
    return this.pgctl(
      '-w',
      '-m',
      'fast',
      '-l',
      join(this.dir, 'log'),
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60`,
      'restart',
    )
  }

  async destroy(): Promise<void> {
    await this.pgctl('-m', 'immediate', 'stop').catch(() => {})
    rmSync(this.dir, { recursive: true, force: true })
  }
}

export class ServerProcess {
  child?: ChildProcess
  base = ''
  log = ''
  exits: Array<number | null> = []

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  async start(): Promise<void> {
    const port = await freePort()
    this.base = `http://127.0.0.1:${port}`
    const child = spawn(process.execPath, [`${ROOT}dist/src/server.js`], {
      env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', NATPLAN_RATE_LIMIT: 'off', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.child = child
    child.stdout!.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-20_000)))
    child.stderr!.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-20_000)))
    child.on('exit', (code) => this.exits.push(code))
    const deadline = Date.now() + 60_000
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode} at start:\n${this.log}`)
      try {
        if ((await fetch(`${this.base}/healthz`)).ok) return
      } catch {
        // not listening yet
      }
      await sleep(100)
    }
    throw new Error(`server did not start in 60 s:\n${this.log}`)
  }

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
  }

  kill9(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.alive) return resolve()
      this.child!.once('exit', () => resolve())
      this.child!.kill('SIGKILL')
    })
  }

  async stop(): Promise<void> {
    if (!this.alive) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.child!.kill('SIGKILL'), 10_000)
      this.child!.once('exit', () => {
        clearTimeout(timer)
        resolve()
      })
      this.child!.kill('SIGTERM')
    })
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export interface Outcome {
  status: number
  contentType: string
  retryAfter: string | null
  body: string
  ms: number
}

/** One request; a connection failure is status 0 (the server must never cause one). */
export async function request(url: string, init: RequestInit = {}): Promise<Outcome> {
  const t = performance.now()
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) })
    const body = await res.text()
    return {
      status: res.status,
      contentType: res.headers.get('content-type') ?? '',
      retryAfter: res.headers.get('retry-after'),
      body,
      ms: performance.now() - t,
    }
  } catch (err) {
    return { status: 0, contentType: '', retryAfter: null, body: String((err as Error).cause ?? err), ms: performance.now() - t }
  }
}

/**
 * Mixed load until stop(): writers POST snapshots (each a new version), readers GET listings and
 * restore scripts. Bounded: a few requests in flight, each to loopback.
 */
export function mixedLoad(base: string, cluster: string, snapshot: (n: number) => unknown, readers = 3): { stop(): Promise<Outcome[]> } {
  let running = true
  const outcomes: Outcome[] = []
  let n = 1000
  const writer = async (): Promise<void> => {
    while (running) {
      outcomes.push(
        await request(`${base}/v1/clusters/${cluster}/snapshots`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(snapshot(n++)),
        }),
      )
    }
  }
  const reader = async (i: number): Promise<void> => {
    const paths = ['/versions?limit=5', '/versions/latest/restore-script', '/versions/latest', '/growth']
    let k = i
    while (running) {
      outcomes.push(await request(`${base}/v1/clusters/${cluster}${paths[k++ % paths.length]}`))
      await sleep(10)
    }
  }
  const all = [writer(), ...Array.from({ length: readers }, (_, i) => reader(i))]
  return {
    async stop() {
      running = false
      await Promise.all(all)
      return outcomes
    },
  }
}
