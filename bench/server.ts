/**
 * The real natplan server as a child process for the benchmarks that measure it from outside
 * (bench:attacks, bench:load): started as `npm run dev` starts it (scripts/node, tsx) on a
 * throwaway database (DATABASE_URL's or TEST_DATABASE_URL's server, else an embedded one), on a
 * free loopback port, and stopped with its database dropped.
 */
import { spawn } from 'node:child_process'
import { freePort } from '../src/db/embedded.js'
import { createThrowawayDatabase } from '../src/db/throwaway.js'

export interface BenchServer {
  base: string
  /** The server's own pid (scripts/node execs node), for /proc/PID/status. */
  pid: number
  stop(): Promise<void>
}

export async function startServer(label: string, env: Record<string, string>): Promise<BenchServer> {
  const db = await createThrowawayDatabase(label, process.env.DATABASE_URL ?? process.env.TEST_DATABASE_URL)
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const child = spawn('scripts/node', ['--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, DATABASE_URL: db.url, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', NATPLAN_RATE_LIMIT: 'off', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      child.kill('SIGTERM')
      await new Promise((r) => child.once('exit', r))
    }
    await db.drop()
  }
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${base}/healthz`)).ok) break
      } catch {
        if (i > 300) throw new Error('the server did not start')
      }
      await new Promise((r) => setTimeout(r, 100))
    }
  } catch (err) {
    await stop()
    throw err
  }
  return { base, pid: child.pid!, stop }
}
