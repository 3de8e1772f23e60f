/**
 * `kubectl natplan push|plan|diff|trace|drift|version`: the natplan commands as a kubectl plugin
 * (bin/kubectl-natplan). kubectl finds an executable named `kubectl-natplan` on PATH, runs it with
 * every argument after `natplan` and its own environment, and refuses flags placed before the
 * plugin's name (staging/src/k8s.io/kubectl/pkg/cmd/plugin/plugin.go, HandlePluginCommand).
 *
 * This module only translates kubectl's style into natplan's commands (src/cli/*.ts):
 *   -o, --output json|yaml       the server's answer; default the human tables
 *   --natplan-url, NATPLAN_URL   the natplan server (kubectl's own --server is the API server's)
 *   --natplan-token, NATPLAN_TOKEN
 *   --cluster                    natplan's cluster name; default the current kubectl context
 *   --context, --kubeconfig      passed to the kubectl this plugin runs
 *   -n, --namespace              diff and drift: only that namespace's Services in the tables
 * and, for `push` and `plan` without a FILE, runs `kubectl get` itself for the snapshot.
 */
import { spawn } from 'node:child_process'
import { Readable } from 'node:stream'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { diffCommand, diffOptions } from './diff.js'
import { driftCommand, driftOptions } from './drift.js'
import { exitCodeOf } from './exit.js'
import { oneOf, UsageError, type Io } from './io.js'
import { planCommand, planOptions } from './plan.js'
import { pushCommand, pushOptions } from './push.js'
import { traceCommand, traceOptions } from './trace.js'
import { packageVersion } from './version.js'

type Options = NonNullable<ParseArgsConfig['options']>

interface PluginCommand {
  run(args: string[], io: Io): Promise<number>
  /** The natplan command's own flags the plugin passes on (its server and output flags are the plugin's). */
  options: Options
  /** Talks to a natplan server: needs its URL and a cluster name. */
  server: boolean
  /** Without a FILE the snapshot is the current cluster, read with kubectl. */
  snapshot: boolean
  /** Takes -n/--namespace. */
  namespace: boolean
  short: string
  usage: string
  examples: string
  flags: Array<[string, string]>
}

/** natplan's names for what the plugin spells kubectl's way, or decides itself. */
const NOT_PASSED = new Set(['url', 'token', 'cluster', 'json', 'output', 'format', 'namespace'])

const only = (options: Options): Options => Object.fromEntries(Object.entries(options).filter(([name]) => !NOT_PASSED.has(name)))

const COMMANDS: Record<string, PluginCommand> = {
  push: {
    run: pushCommand,
    options: only(pushOptions),
    server: true,
    snapshot: true,
    namespace: false,
    short: 'Push the current cluster (or a snapshot file) to natplan as a new version',
    usage: 'kubectl natplan push [FILE|-] [options]',
    examples: `  # Services, EndpointSlices, Nodes and kube-proxy's ConfigMap of the current context, as version N+1
  kubectl natplan push --natplan-url http://127.0.0.1:8080

  # a snapshot file, into the cluster named prod
  kubectl natplan push snapshot.json --cluster prod`,
    flags: [['--proxy key=value', 'A kube-proxy setting (repeatable), e.g. --proxy masqueradeAll=true']],
  },
  plan: {
    run: planCommand,
    options: only(planOptions),
    server: false,
    snapshot: true,
    namespace: false,
    short: 'Print the restore script kube-proxy writes on a node, planned locally (no server)',
    usage: 'kubectl natplan plan [FILE|-] [options]',
    examples: `  # what kube-proxy writes on worker-a of the current cluster, nat table only
  kubectl natplan plan --node worker-a --table nat

  # every node's, into ./rules
  kubectl natplan plan --all-nodes ./rules`,
    flags: [
      ['--node NAME', 'The node to plan (needed when the cluster has many and the settings name none)'],
      ['--all-nodes DIR', "Write every node's script to DIR/NODE.rules"],
      ['--table nat|filter|all', 'Which tables (default all)'],
      ['--family IPv4|IPv6', 'Which family (default the first)'],
      ['--flavour kube-proxy|standalone', 'standalone: loadable without kube-proxy'],
      ['--node-save FILE', "The node's iptables-save -t nat, for the stale chains a full sync deletes"],
      ['--proxy key=value', 'A kube-proxy setting (repeatable)'],
    ],
  },
  diff: {
    run: diffCommand,
    options: only(diffOptions),
    server: true,
    snapshot: false,
    namespace: true,
    short: 'Show what changed between two versions, or between two nodes',
    usage: 'kubectl natplan diff FROM [TO] [options]',
    examples: `  # the changes of the last push
  kubectl natplan diff 6 latest

  # worker-a against worker-b in version 7
  kubectl natplan diff 7 --from-node worker-a --to-node worker-b`,
    flags: [
      ['--node NAME', 'One node across the two versions'],
      ['--from-node NAME, --to-node NAME', 'Two nodes (of one version when TO is left out)'],
      ['--family IPv4|IPv6', 'Only this family'],
    ],
  },
  trace: {
    run: traceCommand,
    options: only(traceOptions),
    server: true,
    snapshot: false,
    namespace: false,
    short: "Trace a new connection through a version's rules, chain by chain",
    usage: 'kubectl natplan trace --dst IP --dport PORT [options]',
    examples: `  # a client outside the cluster connecting to a ClusterIP Service on worker-a
  kubectl natplan trace --node worker-a --dst 10.96.0.10 --dport 53 --proto udp`,
    flags: [
      ['--dst IP', 'Destination: a cluster IP, external IP, load-balancer IP or node IP'],
      ['--dport PORT', 'Destination port'],
      ['--proto tcp|udp|sctp', 'Protocol (default tcp)'],
      ['--src IP', 'Source (default 203.0.113.1 or 2001:db8::1: outside the cluster)'],
      ['--version V', 'The version (default latest)'],
      ['--node NAME', 'The node whose rules to walk'],
      ['--node-address IP', 'An address LOCAL to the node (repeatable; default its node IPs)'],
    ],
  },
  drift: {
    run: driftCommand,
    options: only(driftOptions),
    server: true,
    snapshot: false,
    namespace: true,
    short: "Compare a node's iptables-save output with a version's plan",
    usage: 'kubectl natplan drift FILE|- [options]',
    examples: `  # the node's live rules against the latest version
  ssh worker-a sudo iptables-save | kubectl natplan drift --node worker-a -`,
    flags: [
      ['--version V', 'The version (default latest)'],
      ['--node NAME', 'The node the dump is of'],
      ['--family IPv4|IPv6', 'Which plan to compare with (default guessed from the dump)'],
    ],
  },
}

/** The plugin's own flags, every command. */
const PLUGIN_OPTIONS = {
  output: { type: 'string', short: 'o' },
  'natplan-url': { type: 'string' },
  'natplan-token': { type: 'string' },
  cluster: { type: 'string' },
  context: { type: 'string' },
  kubeconfig: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

const NAMESPACE_OPTION = { namespace: { type: 'string', short: 'n' } } as const

const OPTIONS_HELP: Array<[string, string]> = [
  ['-o, --output json|yaml', "Print the server's answer as JSON or YAML instead of tables"],
  ['--natplan-url URL', 'The natplan server (default $NATPLAN_URL)'],
  ['--natplan-token TOKEN', 'Its bearer token (default $NATPLAN_TOKEN)'],
  ['--cluster NAME', "The cluster's name in natplan (default the current kubectl context)"],
  ['--context NAME', 'The kubeconfig context kubectl reads the cluster from (and the default --cluster)'],
  ['--kubeconfig FILE', 'The kubeconfig kubectl reads'],
]

function flagLines(flags: Array<[string, string]>): string {
  const width = Math.max(...flags.map(([f]) => f.length))
  return flags.map(([f, what]) => `    ${f.padEnd(width)}   ${what}\n`).join('')
}

function rootHelp(): string {
  const names = [...Object.keys(COMMANDS), 'version']
  const width = Math.max(...names.map((n) => n.length))
  const commands = Object.entries(COMMANDS)
    .map(([name, c]) => `  ${name.padEnd(width)}   ${c.short}\n`)
    .join('')
  return `Plan, diff and trace the iptables rules kube-proxy writes, with a natplan server.

Commands:
${commands}  ${'version'.padEnd(width)}   Print the plugin's version

Examples:
  # push the current cluster, then see what changed since the version before
  export NATPLAN_URL=http://127.0.0.1:8080
  kubectl natplan push
  kubectl natplan diff 1 latest -o yaml

Options:
${flagLines(OPTIONS_HELP)}
Usage:
  kubectl natplan [command] [options]

Use "kubectl natplan <command> --help" for more information about a given command.
`
}

function commandHelp(c: PluginCommand): string {
  const options = [...c.flags, ...(c.namespace ? ([['-n, --namespace NS', "Only this namespace's Services in the tables"]] as Array<[string, string]>) : [])]
  const shared = c.server ? OPTIONS_HELP : OPTIONS_HELP.filter(([f]) => f.startsWith('-o') || f.startsWith('--context') || f.startsWith('--kubeconfig'))
  return `${c.short}.

Examples:
${c.examples}

Options:
${flagLines([...options, ...shared])}
Usage:
  ${c.usage}

Use "kubectl natplan --help" for the other commands.
`
}

/** kubectl's (pflag's) `-o=json` is `-ojson` to node's parseArgs, which would keep the `=`. */
function pflagStyle(args: string[]): string[] {
  const out: string[] = []
  for (const arg of args) {
    if (arg === '--') return [...out, ...args.slice(out.length)]
    const m = /^-([a-zA-Z])=(.*)$/s.exec(arg)
    out.push(m ? `-${m[1]}${m[2]}` : arg)
  }
  return out
}

/** Value flags of the plugin, for finding the command among `-o json diff 1 2` (cobra takes flags before it). */
const VALUE_FLAGS = new Set(['-o', '--output', '--natplan-url', '--natplan-token', '--cluster', '--context', '--kubeconfig', '-n', '--namespace'])

function splitCommand(args: string[]): { name: string | undefined; rest: string[] } {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === '--') break
    if (!arg.startsWith('-') || arg === '-') return { name: arg, rest: [...args.slice(0, i), ...args.slice(i + 1)] }
    if (VALUE_FLAGS.has(arg)) i++
  }
  return { name: undefined, rest: args }
}

export async function runKubectl(argv: string[], io: Io): Promise<number> {
  const args = pflagStyle(argv)
  const { name, rest } = splitCommand(args)
  const command = name === undefined ? undefined : COMMANDS[name]
  const style = { prefix: 'error: ', usage: `See 'kubectl natplan${command ? ` ${name}` : ''} --help' for usage.\n` }
  try {
    // As kubectl itself: no command, or help, prints the help and succeeds.
    if (name === undefined || name === 'help') {
      const about = name === 'help' ? splitCommand(rest).name : undefined
      if (name === undefined && rest.length > 0 && !rest.some((a) => a === '-h' || a === '--help')) throw new UsageError('missing command')
      io.stdout.write(about && COMMANDS[about] ? commandHelp(COMMANDS[about]) : rootHelp())
      return 0
    }
    if (name === 'version') return version(rest, io)
    if (!command) throw new UsageError(`unknown command "${name}" for "kubectl natplan"`)
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { ...command.options, ...PLUGIN_OPTIONS, ...(command.namespace ? NAMESPACE_OPTION : {}) },
    })
    if (values.help) {
      io.stdout.write(commandHelp(command))
      return 0
    }
    const output = oneOf(values.output as string | undefined, ['json', 'yaml'] as const, 'output')
    const kube = kubectlFlags(values)
    const translated: string[] = []
    for (const [flag, value] of Object.entries(values)) {
      if (!(flag in command.options)) continue
      for (const v of Array.isArray(value) ? value : [value]) translated.push(v === true ? `--${flag}` : `--${flag}=${String(v)}`)
    }
    if (output) translated.push(`--output=${output}`)
    if (command.namespace && values.namespace !== undefined) translated.push(`--namespace=${String(values.namespace)}`)
    if (command.server) {
      const url = (values['natplan-url'] as string | undefined) ?? io.env.NATPLAN_URL
      if (!url) throw new UsageError('no natplan server: give --natplan-url URL or set NATPLAN_URL')
      const cluster = (values.cluster as string | undefined) ?? (await currentContext(kube, io))
      translated.push(`--url=${url}`, `--cluster=${cluster}`)
      const token = values['natplan-token'] as string | undefined
      if (token !== undefined) translated.push(`--token=${token}`)
    }
    let commandIo = io
    if (command.snapshot && positionals.length === 0) {
      commandIo = { ...io, stdin: Readable.from([await clusterSnapshot(kube, io)]) }
      positionals.push('-')
    }
    return await command.run([...translated, '--', ...positionals], commandIo)
  } catch (err) {
    if (err instanceof KubectlError) {
      io.stderr.write(`error: ${err.message}`)
      return 1
    }
    return exitCodeOf(err, io, style)
  }
}

function version(args: string[], io: Io): number {
  const { values } = parseArgs({ args, options: { output: PLUGIN_OPTIONS.output, help: PLUGIN_OPTIONS.help } })
  if (values.help) {
    io.stdout.write(
      `Print the plugin's version.\n\nOptions:\n${flagLines([['-o, --output json|yaml', 'Print the version as JSON or YAML']])}\nUsage:\n  kubectl natplan version [options]\n`,
    )
    return 0
  }
  const output = oneOf(values.output, ['json', 'yaml'] as const, 'output')
  const v = packageVersion()
  // As `kubectl version -o json` nests its own under clientVersion.
  if (output === 'json') io.stdout.write(JSON.stringify({ clientVersion: { name: 'kubectl-natplan', version: v } }, null, 2) + '\n')
  else if (output === 'yaml') io.stdout.write(`clientVersion:\n  name: kubectl-natplan\n  version: ${v}\n`)
  else io.stdout.write(`kubectl-natplan version: v${v}\n`)
  return 0
}

/** --context and --kubeconfig, for every kubectl this plugin runs. */
function kubectlFlags(values: Record<string, unknown>): string[] {
  const flags: string[] = []
  if (typeof values.kubeconfig === 'string') flags.push(`--kubeconfig=${values.kubeconfig}`)
  if (typeof values.context === 'string') flags.push(`--context=${values.context}`)
  return flags
}

/** The natplan cluster name by default: the kubeconfig context's (--context, else the current one). */
async function currentContext(kube: string[], io: Io): Promise<string> {
  const given = kube.find((f) => f.startsWith('--context='))?.slice('--context='.length)
  let name = given
  if (name === undefined) {
    const r = await kubectl([...kube, 'config', 'current-context'], io)
    if (r === 'missing') throw new UsageError('give --cluster NAME (kubectl is not on PATH to name the current context)')
    if (r.code !== 0) throw new UsageError(`give --cluster NAME (kubectl config current-context: ${r.stderr.trim() || `exit ${r.code}`})`)
    name = r.stdout.trim()
  }
  // natplan's cluster names are DNS labels (src/api/rest/schemas.ts); contexts often are not (gke_…, arn:aws:…).
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name)) {
    throw new UsageError(`the context "${name}" is not a natplan cluster name (a DNS label: a-z, 0-9, "-"): give --cluster NAME`)
  }
  return name
}

/**
 * The cluster as natplan reads it: Services, EndpointSlices and Nodes of every namespace, then
 * kube-proxy's ConfigMap (its settings) when it can be read — the two JSON documents one after
 * another, as README's `{ kubectl get …; kubectl get …; }` pipeline prints them.
 */
async function clusterSnapshot(kube: string[], io: Io): Promise<string> {
  const list = await kubectl([...kube, 'get', 'services,endpointslices,nodes', '--all-namespaces', '--output=json'], io)
  if (list === 'missing') throw new UsageError('kubectl is not on PATH: install it, or give a snapshot FILE (or - for stdin)')
  if (list.code !== 0) throw new KubectlError(`kubectl get services,endpointslices,nodes failed:\n${list.stderr}`)
  const configMap = await kubectl([...kube, 'get', 'configmap', '--namespace=kube-system', 'kube-proxy', '--output=json'], io)
  if (configMap === 'missing' || configMap.code !== 0) {
    const why = configMap === 'missing' ? 'kubectl vanished' : configMap.stderr.trim().split('\n')[0]
    io.stderr.write(`natplan: warning: kube-proxy's ConfigMap not read (${why}): its settings come from --proxy and kube-proxy's defaults\n`)
    return list.stdout
  }
  return `${list.stdout}\n${configMap.stdout}`
}

/** kubectl said no: its stderr, exit 1 (the input said no). */
class KubectlError extends Error {}

async function kubectl(args: string[], io: Io): Promise<{ code: number; stdout: string; stderr: string } | 'missing'> {
  return new Promise((resolve, reject) => {
    const child = spawn('kubectl', args, { env: io.env, stdio: ['ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', (d: Buffer) => err.push(d))
    child.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? resolve('missing') : reject(e)))
    child.on('close', (code) => resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }))
  })
}
