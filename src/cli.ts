#!/usr/bin/env node
/**
 * natplan CLI.
 *
 *   natplan plan FILE|-  [--table nat|filter|all] [--flavour kube-proxy|standalone]
 *                        [--family IPv4|IPv6] [--format text|json] [--proxy key=value ...]
 *                        [--node NAME | --all-nodes DIR] [--node-save FILE]
 *       Print the restore script of a snapshot (envelope, bare List, YAML) with no database,
 *       with the same defaults as the API (all tables, kube-proxy flavour, first family): of the
 *       node its settings name or its only node, of --node NAME, or every node's into DIR
 *       (DIR/NODE.rules and DIR/nodes.json). --node-save FILE: that node's `iptables-save -t nat`
 *       (of --family, else the first): the full sync then deletes its stale service chains.
 *
 *   natplan push --url URL --cluster NAME [--token T] [--proxy key=value ...] [FILE|-]
 *       POST a snapshot (JSON or YAML) to a natplan server and print the result, e.g.
 *       kubectl get services,endpointslices,nodes -A -o json | natplan push --url … --cluster prod
 *
 * Exit codes: 0 ok, 1 the server or the snapshot said no (problem printed on stderr), 2 usage.
 */
import { realpathSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { DomainError } from './errors.js'
import { nodePlan, PlanInputError, planCluster, renderRestore, toEnvelope, UnsafeWordError, variantPlan, type ClusterPlan } from './planner/index.js'
import { existingChainsFromSave } from './planner/analysis/save.js'
import { ApiError, Client } from './cli/client.js'
import { oneOf, parseDocument, parseProxyFlags, readInput, UsageError, type Io } from './cli/io.js'

export { jsonText, parseDocument, parseProxyFlags, type Io } from './cli/io.js'

const USAGE = `usage:
  natplan plan FILE|- [--table nat|filter|all] [--flavour kube-proxy|standalone] [--family IPv4|IPv6]
                      [--format text|json] [--proxy key=value ...] [--node NAME | --all-nodes DIR]
                      [--node-save FILE]
  natplan push --url URL --cluster NAME [--token T | env NATPLAN_TOKEN] [--proxy key=value ...] [FILE|-]
  natplan watch --url URL --cluster NAME [--token T] [--proxy key=value ...] [--config FILE] [--quiet-period 2s] [--max-delay 30s] [--json] [FILE|- ...]
`

async function planCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      table: { type: 'string' },
      flavour: { type: 'string' },
      family: { type: 'string' },
      format: { type: 'string', default: 'text' },
      proxy: { type: 'string', multiple: true },
      node: { type: 'string' },
      'all-nodes': { type: 'string' },
      'node-save': { type: 'string' },
    },
  })
  if (positionals.length > 1) throw new UsageError('plan takes one FILE (or - for stdin)')
  if (values['node-save'] !== undefined && values['all-nodes'] !== undefined)
    throw new UsageError("--node-save is one node's iptables-save: it goes with --node, not --all-nodes")
  if (values.node !== undefined && values['all-nodes'] !== undefined) throw new UsageError('--node and --all-nodes exclude each other')
  const table = oneOf(values.table, ['nat', 'filter', 'all'] as const, 'table') ?? 'all'
  const flavour = oneOf(values.flavour, ['kube-proxy', 'standalone'] as const, 'flavour') ?? 'kube-proxy'
  const familyWanted = oneOf(values.family, ['IPv4', 'IPv6'] as const, 'family')
  const format = oneOf(values.format, ['text', 'json'] as const, 'format')
  const { document } = parseDocument(await readInput(positionals[0], io))
  const result = toEnvelope(document, parseProxyFlags(values.proxy))
  if (!result.ok) {
    io.stderr.write('natplan: invalid snapshot:\n')
    for (const issue of result.issues) io.stderr.write(`  ${issue.pointer || '/'}: ${issue.detail}\n`)
    return 1
  }
  if (values['node-save'] !== undefined) {
    // The node's current nat chains, for the stale-chain deletion of a full sync.
    const chains = existingChainsFromSave(await readFile(values['node-save'], 'utf8'))
    const existingChains = familyWanted ? { [familyWanted]: chains } : chains
    const proxy = result.envelope.proxy
    if (values.node !== undefined) proxy.nodes = { ...proxy.nodes, [values.node]: { ...proxy.nodes?.[values.node], existingChains } }
    else proxy.existingChains = existingChains
  }
  let cp: ClusterPlan
  try {
    cp = planCluster(result.envelope)
  } catch (err) {
    if (!(err instanceof PlanInputError || err instanceof UnsafeWordError)) throw err
    io.stderr.write(`natplan: invalid snapshot: ${err.message}\n`)
    return 1
  }
  const names = cp.nodes.map((n) => n.name)
  if (values['all-nodes'] !== undefined) return writeAllNodes(cp, values['all-nodes'], { table, flavour, family: familyWanted }, io)
  const node = values.node ?? cp.defaultNode
  if (node === null) {
    io.stderr.write(
      `natplan: the snapshot has ${names.length} nodes and names none: choose one with --node (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''}), or write every node's with --all-nodes DIR\n`,
    )
    return 2
  }
  const planned = nodePlan(cp, node)
  if (!planned) {
    io.stderr.write(`natplan: no node ${node} in the snapshot (it has ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''})\n`)
    return 1
  }
  for (const w of planned.warnings) io.stderr.write(`natplan: warning: ${w.code}: ${w.message}${w.pointer ? ` (${w.pointer})` : ''}\n`)
  if (format === 'json') {
    io.stdout.write(JSON.stringify(planned, null, 2) + '\n')
    return 0
  }
  const familyPlan = familyWanted ? planned.families.find((f) => f.family === familyWanted) : planned.families[0]
  if (!familyPlan) {
    io.stderr.write(`natplan: the plan has no ${familyWanted} family (it has ${planned.families.map((f) => f.family).join(', ') || 'none'})\n`)
    return 1
  }
  io.stdout.write(renderRestore(familyPlan, { table, flavour }))
  return 0
}

/** One file per node: DIR/NODE.rules (the family asked for, else the first), and DIR/nodes.json listing them. */
async function writeAllNodes(
  cp: ClusterPlan,
  dir: string,
  opts: { table: 'nat' | 'filter' | 'all'; flavour: 'kube-proxy' | 'standalone'; family?: 'IPv4' | 'IPv6' },
  io: Io,
): Promise<number> {
  await mkdir(dir, { recursive: true })
  for (const w of cp.warnings) io.stderr.write(`natplan: warning: ${w.code}: ${w.message}${w.pointer ? ` (${w.pointer})` : ''}\n`)
  const listed: Array<{ name: string; variant: number; file: string }> = []
  for (const n of cp.nodes) {
    const p = variantPlan(cp, n.variant)
    const fp = opts.family ? p.families.find((f) => f.family === opts.family) : p.families[0]
    if (!fp) continue
    const file = `${n.name || 'node'}.rules`
    await writeFile(join(dir, file), renderRestore(fp, { table: opts.table, flavour: opts.flavour }))
    listed.push({ name: n.name, variant: n.variant, file })
  }
  await writeFile(
    join(dir, 'nodes.json'),
    JSON.stringify({ defaultNode: cp.defaultNode, defaulted: cp.defaulted, variants: cp.variants.length, nodes: listed }, null, 2) + '\n',
  )
  io.stderr.write(`natplan: wrote ${listed.length} nodes (${cp.variants.length} distinct plans) to ${dir}\n`)
  return 0
}

async function pushCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      cluster: { type: 'string' },
      token: { type: 'string' },
      proxy: { type: 'string', multiple: true },
    },
  })
  if (!values.url) throw new UsageError('push needs --url (e.g. http://127.0.0.1:8080)')
  if (!values.cluster) throw new UsageError('push needs --cluster NAME')
  if (positionals.length > 1) throw new UsageError('push takes one FILE (or - for stdin)')
  const text = await readInput(positionals[0], io)
  const client = new Client({ url: values.url, token: values.token ?? io.env.NATPLAN_TOKEN })
  const answer = await client.pushSnapshot(values.cluster, text, parseProxyFlags(values.proxy))
  io.stdout.write(JSON.stringify(answer) + '\n')
  return 0
}

export async function run(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv
  try {
    if (command === 'plan') return await planCommand(rest, io)
    if (command === 'push') return await pushCommand(rest, io)
    if (command === 'watch') return await (await import('./cli/watch.js')).watchCommand(rest, io)
    if (command === '--help' || command === '-h' || command === 'help') {
      io.stdout.write(USAGE)
      return 0
    }
    throw new UsageError(command ? `unknown command "${command}"` : 'missing command')
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`natplan: ${(err as Error).message}\n${USAGE}`)
      return 2
    }
    if (err instanceof ApiError) {
      io.stderr.write(`natplan: ${err.message}`)
      return 1
    }
    if (err instanceof DomainError) {
      io.stderr.write(`natplan: ${err.message}\n${err.issues.map((i) => `  ${i.pointer || '/'}: ${i.detail}\n`).join('')}`)
      return 1
    }
    const e = err as NodeJS.ErrnoException
    if (e.code === 'ENOENT' || e.code === 'EISDIR' || e.code === 'EACCES') {
      io.stderr.write(`natplan: ${e.message}\n`)
      return 2
    }
    if (e instanceof TypeError && /fetch failed/.test(e.message)) {
      io.stderr.write(`natplan: cannot reach the server: ${(e.cause as Error | undefined)?.message ?? e.message}\n`)
      return 1
    }
    throw err
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
