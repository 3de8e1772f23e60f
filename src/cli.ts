#!/usr/bin/env node
/**
 * natplan CLI: the entry and the dispatcher. Each command is its own module under src/cli/;
 * its usage lines are below.
 *
 *   plan   print the restore script of a snapshot file, offline (src/cli/plan.ts)
 *   push   POST a snapshot to a natplan server and summarise the version (src/cli/push.ts), e.g.
 *          kubectl get services,endpointslices,nodes -A -o json | natplan push --url … --cluster prod
 *   diff   what changed between two versions, or two nodes (src/cli/diff.ts)
 *   trace  a new connection through a version's plan (src/cli/trace.ts)
 *   drift  a node's iptables-save output against a version's plan (src/cli/drift.ts)
 *   watch  keep the cluster's state from kubectl watch streams and push it when it settles (src/cli/watch.ts)
 *
 * Human summaries and tables go to stdout, problems and warnings to stderr; `--json` (or
 * `-o json|yaml`) prints the server's answer instead. The same commands in kubectl's style:
 * `kubectl natplan` (src/cli/kubectl.ts, bin/kubectl-natplan).
 *
 * Exit codes: 0 ok, 1 the server or the snapshot said no (problem printed on stderr), 2 usage.
 */
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { diffCommand, diffUsage } from './cli/diff.js'
import { driftCommand, driftUsage } from './cli/drift.js'
import { exitCodeOf } from './cli/exit.js'
import { UsageError, type Io } from './cli/io.js'
import { planCommand, planUsage } from './cli/plan.js'
import { pushCommand, pushUsage } from './cli/push.js'
import { traceCommand, traceUsage } from './cli/trace.js'
import { watchCommand, watchUsage } from './cli/watch.js'
import { packageVersion } from './cli/version.js'

export { jsonText, parseDocument, parseProxyFlags, type Io } from './cli/io.js'

const USAGE = `usage:
${planUsage}${pushUsage}${watchUsage}${diffUsage}${traceUsage}${driftUsage}  natplan version
`

const COMMANDS: Record<string, (args: string[], io: Io) => Promise<number>> = {
  plan: planCommand,
  push: pushCommand,
  diff: diffCommand,
  trace: traceCommand,
  drift: driftCommand,
  watch: watchCommand,
}

export async function run(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv
  try {
    if (command === '--help' || command === '-h' || command === 'help') {
      io.stdout.write(USAGE)
      return 0
    }
    if (command === 'version' || command === '--version') {
      io.stdout.write(`natplan ${packageVersion()}\n`)
      return 0
    }
    const handler = command === undefined ? undefined : COMMANDS[command]
    if (handler) return await handler(rest, io)
    throw new UsageError(command ? `unknown command "${command}"` : 'missing command')
  } catch (err) {
    return exitCodeOf(err, io, { prefix: 'natplan: ', usage: USAGE })
  }
}

/** Run when executed (also through npm's bin symlink), not when imported. */
function isMain(): boolean {
  if (!process.argv[1]) return false
  try {
    return realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)
  } catch {
    return false
  }
}

if (isMain()) {
  run(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
    (code) => {
      process.exitCode = code
    },
    (err: unknown) => {
      process.stderr.write(`natplan: ${err instanceof Error ? err.stack : String(err)}\n`)
      process.exitCode = 1
    },
  )
}
