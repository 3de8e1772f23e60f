/**
 * The built executables (`dist/src/cli.js`, `bin/kubectl-natplan`), spawned as a user runs them,
 * and a build first when dist is older than the CLI's sources.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const CLI = `${ROOT}dist/src/cli.js`
export const KUBECTL_NATPLAN = `${ROOT}bin/kubectl-natplan`

/** Build when dist is missing or older than any CLI source (`npm test` builds first anyway). */
export function ensureBuilt(): void {
  const sources = [`${ROOT}src/cli.ts`, ...readdirSync(`${ROOT}src/cli`).map((f) => `${ROOT}src/cli/${f}`)]
  const newest = Math.max(...sources.map((f) => statSync(f).mtimeMs))
  const built = [CLI, `${ROOT}dist/src/cli/kubectl.js`]
  if (built.every((f) => existsSync(f) && statSync(f).mtimeMs >= newest)) return
  // tsc emits even when files elsewhere in the tree do not type-check yet; dist/src/cli* is what we need.
  const build = spawnSync(process.execPath, [`${ROOT}node_modules/typescript/bin/tsc`, '-p', ROOT], { encoding: 'utf8' })
  if (!built.every((f) => existsSync(f))) throw new Error(`build failed:\n${build.stdout}${build.stderr}`)
}

export interface Ran {
  code: number | null
  stdout: string
  stderr: string
}

/** `command` with `args`; env is the whole environment (PATH included), as the tests choose it. */
export function runProcess(command: string, args: string[], stdin = '', env: NodeJS.ProcessEnv = { PATH: process.env.PATH }): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.on('error', () => {}) // a command that exits without reading stdin
    child.stdin.end(stdin)
  })
}

/** `natplan ARGS`, through node as npm's bin link runs it. */
export function natplan(args: string[], stdin?: string, env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return runProcess(process.execPath, [CLI, ...args], stdin, { PATH: process.env.PATH, ...env })
}
