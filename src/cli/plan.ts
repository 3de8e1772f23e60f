/**
 * `natplan plan FILE|-`: the restore script of a snapshot with no server and no database, with
 * the API's defaults (all tables, kube-proxy flavour, first family). The script is its human
 * output; `--format json` (or `--json`, `-o json|yaml`) prints the node's plan instead.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import {
  nodePlan,
  PlanInputError,
  planCluster,
  renderRestoreBuffers,
  renderRestoreBytes,
  toEnvelope,
  UnsafeWordError,
  variantPlan,
  type ClusterPlan,
} from '../planner/index.js'
import { existingChainsFromSave } from '../planner/analysis/save.js'
import { oneOf, parseDocument, parseProxyFlags, readInput, UsageError, type Io } from './io.js'
import { outputFormat, outputOptions, printAnswer, warningLine } from './output.js'

export const planUsage = `  natplan plan FILE|- [--table nat|filter|all] [--flavour kube-proxy|standalone] [--family IPv4|IPv6]
                      [--format text|json | --json | -o json|yaml] [--proxy key=value ...]
                      [--node NAME | --all-nodes DIR] [--node-save FILE]
`

export const planOptions = {
  table: { type: 'string' },
  flavour: { type: 'string' },
  family: { type: 'string' },
  format: { type: 'string' },
  ...outputOptions,
  proxy: { type: 'string', multiple: true },
  node: { type: 'string' },
  'all-nodes': { type: 'string' },
  'node-save': { type: 'string' },
} as const

export async function planCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: planOptions })
  if (positionals.length > 1) throw new UsageError('plan takes one FILE (or - for stdin)')
  if (values['node-save'] !== undefined && values['all-nodes'] !== undefined)
    throw new UsageError("--node-save is one node's iptables-save: it goes with --node, not --all-nodes")
  if (values.node !== undefined && values['all-nodes'] !== undefined) throw new UsageError('--node and --all-nodes exclude each other')
  const table = oneOf(values.table, ['nat', 'filter', 'all'] as const, 'table') ?? 'all'
  const flavour = oneOf(values.flavour, ['kube-proxy', 'standalone'] as const, 'flavour') ?? 'kube-proxy'
  const familyWanted = oneOf(values.family, ['IPv4', 'IPv6'] as const, 'family')
  // --format json predates --json and -o; all three say the same.
  const format = oneOf(values.format, ['text', 'json'] as const, 'format') === 'json' ? outputFormat({ ...values, json: true }) : outputFormat(values)
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
  for (const w of planned.warnings) io.stderr.write(warningLine('natplan', w))
  if (format !== 'text') {
    printAnswer(io, format, planned, () => '')
    return 0
  }
  const familyPlan = familyWanted ? planned.families.find((f) => f.family === familyWanted) : planned.families[0]
  if (!familyPlan) {
    io.stderr.write(`natplan: the plan has no ${familyWanted} family (it has ${planned.families.map((f) => f.family).join(', ') || 'none'})\n`)
    return 1
  }
  for (const b of renderRestoreBuffers(familyPlan, { table, flavour })) io.stdout.write(b)
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
  for (const w of cp.warnings) io.stderr.write(warningLine('natplan', w))
  const listed: Array<{ name: string; variant: number; file: string }> = []
  for (const n of cp.nodes) {
    const p = variantPlan(cp, n.variant)
    const fp = opts.family ? p.families.find((f) => f.family === opts.family) : p.families[0]
    if (!fp) continue
    const file = `${n.name || 'node'}.rules`
    await writeFile(join(dir, file), renderRestoreBytes(fp, { table: opts.table, flavour: opts.flavour }))
    listed.push({ name: n.name, variant: n.variant, file })
  }
  await writeFile(
    join(dir, 'nodes.json'),
    JSON.stringify({ defaultNode: cp.defaultNode, defaulted: cp.defaulted, variants: cp.variants.length, nodes: listed }, null, 2) + '\n',
  )
  io.stderr.write(`natplan: wrote ${listed.length} nodes (${cp.variants.length} distinct plans) to ${dir}\n`)
  return 0
}
