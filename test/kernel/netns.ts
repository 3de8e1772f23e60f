/**
 * Real-kernel harness: throwaway network namespaces, real iptables-restore/-save on both
 * backends, and a small traffic rig (client -> node -> pod namespaces joined by veth pairs).
 *
 * Why this exists: `iptables-nft-restore --test` misses undeclared jumps, `-A` to missing chains,
 * busy `-X` and wrong-table targets (docs/kernel.md, "Facts of the tools"), so the only
 * trustworthy check of a generated restore script is to commit it into a kernel. Every
 * namespace here is created by us, named with our pid, and deleted in a `finally` (plus an
 * exit hook as a last resort); nothing touches the root namespace, and traffic only flows
 * between addresses we put on interfaces inside those namespaces.
 *
 * Other test files import this module (diff/delta application, drift checks), so it has no
 * vitest dependency and every external command is bounded in time.
 */
import { spawn, execFileSync } from 'node:child_process'
import { access, constants } from 'node:fs/promises'

export type Backend = 'legacy' | 'nft'
export const BACKENDS: readonly Backend[] = ['legacy', 'nft']
export type IpFamily = 4 | 6

/** The nfacct objects kube-proxy's rules reference (pkg/proxy/iptables/proxier.go, metrics). */
export const KUBE_PROXY_NFACCT = ['ct_state_invalid_dropped_pkts', 'localhost_nps_accepted_pkts'] as const

// ---------------------------------------------------------------------------------------------
// Process execution
// ---------------------------------------------------------------------------------------------

export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
  signal: NodeJS.Signals | null
  durationMs: number
}

export interface RunOptions {
  input?: string
  /** Hard limit; the child is SIGKILLed after it. Default 60 s. */
  timeoutMs?: number
}

/** Runs a command, feeding `input` on stdin; never throws for a non-zero exit. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        durationMs: performance.now() - started,
      })
    })
    // EPIPE when the child exits before reading everything (e.g. a parse error on line 3).
    child.stdin.on('error', () => {})
    child.stdin.end(opts.input ?? '')
  })
}

export class CommandError extends Error {
  constructor(
    readonly cmd: string,
    readonly result: RunResult,
  ) {
    const why = result.signal ? `killed by ${result.signal} (timeout?)` : `exit ${result.code}`
    super(`${cmd}: ${why}: ${result.stderr.trim().slice(0, 2000)}`)
    this.name = 'CommandError'
  }
}

/** Runs a command and throws a CommandError unless it exits 0. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts)
  if (r.code !== 0) throw new CommandError([cmd, ...args].join(' '), r)
  return r
}

/** `ip netns exec NS cmd args…` */
export function nsExec(ns: string, cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], opts)
}

export async function nsExecOk(ns: string, cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await nsExec(ns, cmd, args, opts)
  if (r.code !== 0) throw new CommandError(`[${ns}] ${cmd} ${args.join(' ')}`, r)
  return r
}

/** `ip ARGS` with a short timeout; netlink operations are instantaneous when they work. */
export async function ip(...args: string[]): Promise<void> {
  await runOk('ip', args, { timeoutMs: 10_000 })
}

// ---------------------------------------------------------------------------------------------
// Availability
// ---------------------------------------------------------------------------------------------

export interface KernelAvailability {
  ok: boolean
  /** Why the kernel tests cannot run (empty when ok). */
  reason: string
  /** Whether the `nfacct` tool is installed (needed for kube-proxy-flavour plans). */
  nfacct: boolean
  /** Whether the `conntrack` tool is installed (optional inspection). */
  conntrack: boolean
}

const REQUIRED_TOOLS = [
  'iptables-legacy-restore',
  'iptables-legacy-save',
  'iptables-nft-restore',
  'iptables-nft-save',
  'ip6tables-legacy-restore',
  'ip6tables-nft-restore',
]

async function findTool(name: string): Promise<boolean> {
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin', '/bin', '/usr/local/sbin']) {
    try {
      await access(`${dir}/${name}`, constants.X_OK)
      return true
    } catch {
      // keep looking
    }
  }
  return false
}

let availability: Promise<KernelAvailability> | undefined

/**
 * Can this process create network namespaces and drive both iptables backends in them?
 * Cached; the probe namespace is deleted before returning.
 */
export function kernelAvailable(): Promise<KernelAvailability> {
  availability ??= probeKernel()
  return availability
}

async function probeKernel(): Promise<KernelAvailability> {
  const nfacct = await findTool('nfacct')
  const conntrack = await findTool('conntrack')
  const no = (reason: string): KernelAvailability => ({ ok: false, reason, nfacct, conntrack })
  if (process.platform !== 'linux') return no(`not Linux (${process.platform})`)
  if (process.getuid?.() !== 0) return no(`not root (uid ${process.getuid?.()}); kernel tests need CAP_SYS_ADMIN for ip netns add`)
  if (!(await findTool('ip'))) return no('iproute2 (`ip`) is not installed')
  const missing = []
  for (const t of REQUIRED_TOOLS) if (!(await findTool(t))) missing.push(t)
  if (missing.length) {
    return no(`missing ${missing.join(', ')}; install with: apt-get install -y iptables conntrack nfacct`)
  }
  const probe = `natplan-probe-${process.pid}`
  const r = await run('ip', ['netns', 'add', probe], { timeoutMs: 10_000 })
  if (r.code !== 0) return no(`ip netns add failed: ${r.stderr.trim()}`)
  try {
    const t = await nsExec(probe, 'iptables-nft-save', [], { timeoutMs: 10_000 })
    if (t.code !== 0) return no(`iptables-nft-save fails inside a netns: ${t.stderr.trim()}`)
  } finally {
    await run('ip', ['netns', 'del', probe], { timeoutMs: 10_000 })
  }
  return { ok: true, reason: '', nfacct, conntrack }
}

// ---------------------------------------------------------------------------------------------
// Namespaces
// ---------------------------------------------------------------------------------------------

const live = new Set<string>()
let counter = 0
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  // Last resort when a test process dies between create and finally: synchronous deletes.
  process.on('exit', () => {
    for (const ns of live) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 5_000 })
      } catch {
        // already gone
      }
    }
  })
}

/** A fresh, unique namespace name: `np-<label>-<pid>-<n>` (label trimmed to keep it short). */
export function uniqueNetnsName(label: string): string {
  const clean = label.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 20) || 'ns'
  counter += 1
  return `np-${clean}-${process.pid}-${counter}`
}

export async function createNetns(label: string): Promise<string> {
  installExitHook()
  const ns = uniqueNetnsName(label)
  await ip('netns', 'add', ns)
  live.add(ns)
  await ip('-n', ns, 'link', 'set', 'lo', 'up')
  return ns
}

export async function deleteNetns(ns: string): Promise<void> {
  live.delete(ns)
  await run('ip', ['netns', 'del', ns], { timeoutMs: 10_000 })
}

/** Runs `fn` with a fresh namespace (loopback up) and deletes it afterwards, whatever happens. */
export async function withNetns<T>(label: string, fn: (ns: string) => Promise<T>): Promise<T> {
  const ns = await createNetns(label)
  try {
    return await fn(ns)
  } finally {
    await deleteNetns(ns)
  }
}

// ---------------------------------------------------------------------------------------------
// iptables
// ---------------------------------------------------------------------------------------------

export interface RestoreOptions {
  /** kube-proxy applies with --noflush: only declared chains are flushed. Avoid it on nft for
   *  big inputs (430 s for 10k services, real-iptables.md §4). */
  noflush?: boolean
  counters?: boolean
  /** Parse only (`--test`). */
  test?: boolean
  family?: IpFamily
  /** Default 120 s. */
  timeoutMs?: number
  /** Seconds to wait for /run/xtables.lock (legacy only; nft ignores it). Default 30. */
  wait?: number
}

function tool(backend: Backend, family: IpFamily, what: 'restore' | 'save'): string {
  return `${family === 6 ? 'ip6tables' : 'iptables'}-${backend}-${what}`
}

/**
 * Feeds `text` to iptables-{legacy,nft}-restore inside `ns`; throws a CommandError with
 * iptables' own message (e.g. `line 12 failed`) when the kernel or the parser rejects it.
 */
export async function restore(ns: string, backend: Backend, text: string, opts: RestoreOptions = {}): Promise<RunResult> {
  // Legacy serialises through the global /run/xtables.lock even across namespaces and holds it
  // for the whole restore: a 10k-service legacy restore takes 3-8 s on 2 busy cores, so a
  // parallel test file waiting only -w 5 could fail spuriously. Wait longer instead.
  const args = ['-w', String(opts.wait ?? 30)]
  if (opts.noflush) args.push('--noflush')
  if (opts.counters) args.push('--counters')
  if (opts.test) args.push('--test')
  return nsExecOk(ns, tool(backend, opts.family ?? 4, 'restore'), args, {
    input: text,
    timeoutMs: opts.timeoutMs ?? 120_000,
  })
}

export interface SaveOptions {
  table?: string
  family?: IpFamily
  counters?: boolean
  timeoutMs?: number
}

/** iptables-save inside `ns`, without its `#` header/trailer lines (they carry a timestamp). */
export async function save(ns: string, backend: Backend, opts: SaveOptions = {}): Promise<string> {
  const args: string[] = []
  if (opts.table) args.push('-t', opts.table)
  if (opts.counters) args.push('-c')
  const r = await nsExecOk(ns, tool(backend, opts.family ?? 4, 'save'), args, { timeoutMs: opts.timeoutMs ?? 60_000 })
  return stripSaveComments(r.stdout)
}

export function stripSaveComments(text: string): string {
  return text
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .join('\n')
}

/** Creates nfacct objects in `ns`; rules with `-m nfacct --nfacct-name X` fail to load without them. */
export async function nfacctAdd(ns: string, names: readonly string[] = KUBE_PROXY_NFACCT): Promise<void> {
  for (const name of names) await nsExecOk(ns, 'nfacct', ['add', name], { timeoutMs: 10_000 })
}

/**
 * The jumps kube-proxy inserts outside its restore script on every full sync
 * (pkg/proxy/iptables/proxier.go, iptablesJumpChains; reference §15), as a `--noflush` restore
 * that appends them. Only jumps whose target chain exists in `existing` are emitted, so a
 * partial plan (one table) still loads. Apply it after the plan when testing the kube-proxy
 * flavour with real traffic.
 */
export function kubeProxyJumps(existing: ReadonlySet<string>): string {
  const jumps: Array<[table: string, from: string, to: string, extra: string, comment: string]> = [
    // Listed in the final order: kube-proxy inserts each at position 1 in the reverse order.
    ['filter', 'INPUT', 'KUBE-PROXY-FIREWALL', '-m conntrack --ctstate NEW', 'kubernetes load balancer firewall'],
    ['filter', 'INPUT', 'KUBE-NODEPORTS', '', 'kubernetes health check service ports'],
    ['filter', 'INPUT', 'KUBE-EXTERNAL-SERVICES', '-m conntrack --ctstate NEW', 'kubernetes externally-visible service portals'],
    ['filter', 'INPUT', 'KUBE-FIREWALL', '', ''],
    ['filter', 'FORWARD', 'KUBE-PROXY-FIREWALL', '-m conntrack --ctstate NEW', 'kubernetes load balancer firewall'],
    ['filter', 'FORWARD', 'KUBE-FORWARD', '', 'kubernetes forwarding rules'],
    ['filter', 'FORWARD', 'KUBE-SERVICES', '-m conntrack --ctstate NEW', 'kubernetes service portals'],
    ['filter', 'FORWARD', 'KUBE-EXTERNAL-SERVICES', '-m conntrack --ctstate NEW', 'kubernetes externally-visible service portals'],
    ['filter', 'OUTPUT', 'KUBE-PROXY-FIREWALL', '-m conntrack --ctstate NEW', 'kubernetes load balancer firewall'],
    ['filter', 'OUTPUT', 'KUBE-SERVICES', '-m conntrack --ctstate NEW', 'kubernetes service portals'],
    ['filter', 'OUTPUT', 'KUBE-FIREWALL', '', ''],
    ['nat', 'PREROUTING', 'KUBE-SERVICES', '', 'kubernetes service portals'],
    ['nat', 'OUTPUT', 'KUBE-SERVICES', '', 'kubernetes service portals'],
    ['nat', 'POSTROUTING', 'KUBE-POSTROUTING', '', 'kubernetes postrouting rules'],
  ]
  const out: string[] = []
  for (const table of ['filter', 'nat']) {
    const lines = jumps
      .filter(([t, , to]) => t === table && existing.has(`${table}/${to}`))
      .map(([, from, to, extra, comment]) => ['-A', from, extra, comment ? `-m comment --comment "${comment}"` : '', '-j', to].filter(Boolean).join(' '))
    if (lines.length) out.push(`*${table}`, ...lines, 'COMMIT')
  }
  return out.length ? out.join('\n') + '\n' : ''
}

/** `table/CHAIN` for every chain in an iptables-save dump. */
export function chainsInSave(saveText: string): Set<string> {
  const set = new Set<string>()
  let table = ''
  for (const line of saveText.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim()
    else if (line.startsWith(':')) set.add(`${table}/${line.slice(1).split(' ')[0]}`)
  }
  return set
}

/** Installs kube-proxy's out-of-restore jumps for the chains present in `ns`. */
export async function installKubeProxyJumps(ns: string, backend: Backend, family: IpFamily = 4): Promise<void> {
  const text = kubeProxyJumps(chainsInSave(await save(ns, backend, { family })))
  if (text) await restore(ns, backend, text, { noflush: true, family })
}

// ---------------------------------------------------------------------------------------------
// Traffic rig (reference §3.1 / §6b)
// ---------------------------------------------------------------------------------------------
//
//   client (10.254.0.2 + extra /32 sources) --veth-- node (10.254.0.1) --veth-- pod per endpoint IP
//                                                      |                         (169.254.1.1 gw, Calico-style /32)
//                                                      +--veth-- stub 10.254.0.6 (service CIDRs routed here)
//
// The node holds the rules. Service CIDRs are routed from the node to a stub namespace that does
// not forward, so a packet that is not DNATed dies there (or meets the filter REJECT); routing it
// back towards the client would make the node send ICMP redirects that eat the ICMP rate-limit
// token meant for the REJECT (reference §3.2 "Gotcha found").

export interface Endpoint {
  ip: string
  port: number
}

export interface RigOptions {
  backend: Backend
  endpoints: readonly Endpoint[]
  /** Destinations the client reaches through the node. Default: ['172.30.0.0/16']. */
  serviceCIDRs?: readonly string[]
  /** Extra client source addresses (added as /32 on the client), e.g. a non-10/8 one for masquerade. */
  clientSources?: readonly string[]
  /** Label for namespace names. */
  label?: string
}

export interface Answer {
  source: string
  /** `ip:port` of the endpoint that answered, or `ERR:<code>` / `TIMEOUT` / `EMPTY`. */
  answer: string
  /** The peer address the endpoint saw (masquerade shows up here). */
  peer?: string
}

export interface ConnectOptions {
  host: string
  port: number
  /** Connections per source address. */
  count: number
  /** Source addresses to bind (default: the client's primary address). */
  sources?: readonly string[]
  /** Per-connection timeout, default 1000 ms (failing runs cost about this per connection). */
  timeoutMs?: number
  /** Run the client inside the node namespace (nat OUTPUT path) instead of the client namespace. */
  fromNode?: boolean
}

export interface ConnectResult {
  answers: Answer[]
  /** answer -> count */
  counts: Record<string, number>
  /** source -> answer -> count */
  bySource: Record<string, Record<string, number>>
}

export const RIG = {
  nodeIP: '10.254.0.1',
  clientIP: '10.254.0.2',
  stubIP: '10.254.0.6',
  /** The node-side address of every pod veth: what a masqueraded connection looks like to a pod. */
  podGateway: '169.254.1.1',
} as const

// One process per pod namespace, listening on every endpoint port of that IP; it answers each
// connection with "<ip>:<port> <peer>" so the client can tell which endpoint it reached.
const SERVER_JS = `
const net = require('net');
const [ip, ...ports] = process.argv.slice(1);
let pending = ports.length;
for (const port of ports) {
  net.createServer((s) => { s.on('error', () => {}); s.end(ip + ':' + port + ' ' + s.remoteAddress + '\\n'); })
    .on('error', (e) => { console.error(e.message); process.exit(1); })
    .listen(+port, ip, () => { if (--pending === 0) console.log('ready'); });
}
setTimeout(() => process.exit(0), 600000).unref();
`

// Sequential connections (deterministic load, no SYN bursts); prints one JSON document.
const CLIENT_JS = `
const net = require('net');
const { host, port, count, sources, timeoutMs } = JSON.parse(process.argv[1]);
const one = (localAddress) => new Promise((res) => {
  const s = net.connect({ host, port, localAddress });
  let b = '';
  const done = (answer, peer) => { s.destroy(); res({ source: localAddress, answer, peer }); };
  s.setTimeout(timeoutMs, () => done('TIMEOUT'));
  s.on('data', (d) => { b += d; });
  s.on('end', () => { const [a, p] = b.trim().split(' '); done(a || 'EMPTY', p); });
  s.on('error', (e) => done('ERR:' + e.code));
});
(async () => {
  const answers = [];
  for (const src of sources) for (let i = 0; i < count; i++) answers.push(await one(src));
  process.stdout.write(JSON.stringify(answers));
})();
`

export class TrafficRig {
  readonly pods = new Map<string, string>()
  private readonly servers: Array<ReturnType<typeof spawn>> = []
  private readonly namespaces: string[] = []
  node = ''
  client = ''
  stub = ''

  constructor(readonly opts: RigOptions) {}

  get backend(): Backend {
    return this.opts.backend
  }

  /** Builds the namespaces and starts one server per pod; call close() in a finally. */
  async start(): Promise<void> {
    const label = this.opts.label ?? 'rig'
    this.node = await this.ns(`${label}-n`)
    this.client = await this.ns(`${label}-c`)
    this.stub = await this.ns(`${label}-w`)
    await this.wireClientAndStub()
    const byIp = new Map<string, number[]>()
    for (const ep of this.opts.endpoints) byIp.set(ep.ip, [...(byIp.get(ep.ip) ?? []), ep.port])
    let i = 0
    for (const [epIp, ports] of byIp) {
      const pod = await this.ns(`${label}-p${i}`)
      this.pods.set(epIp, pod)
      await this.wirePod(pod, `n-p${i}`, epIp)
      await this.startServer(pod, epIp, [...new Set(ports)])
      i += 1
    }
  }

  private async ns(label: string): Promise<string> {
    const name = await createNetns(label)
    this.namespaces.push(name)
    return name
  }

  private async wireClientAndStub(): Promise<void> {
    const { node, client, stub } = this
    await ip('-n', node, 'link', 'add', 'n-c', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', client)
    await ip('-n', node, 'link', 'add', 'n-w', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', stub)
    await ip('-n', node, 'addr', 'add', `${RIG.nodeIP}/30`, 'dev', 'n-c')
    await ip('-n', client, 'addr', 'add', `${RIG.clientIP}/30`, 'dev', 'eth0')
    await ip('-n', node, 'addr', 'add', '10.254.0.5/30', 'dev', 'n-w')
    await ip('-n', stub, 'addr', 'add', `${RIG.stubIP}/30`, 'dev', 'eth0')
    for (const [n, dev] of [
      [node, 'n-c'],
      [node, 'n-w'],
      [client, 'eth0'],
      [stub, 'eth0'],
    ] as const) {
      await ip('-n', n, 'link', 'set', dev, 'up')
    }
    for (const src of this.opts.clientSources ?? []) {
      await ip('-n', client, 'addr', 'add', `${src}/32`, 'dev', 'eth0')
      await ip('-n', node, 'route', 'add', `${src}/32`, 'via', RIG.clientIP, 'dev', 'n-c')
    }
    for (const cidr of this.opts.serviceCIDRs ?? ['172.30.0.0/16']) {
      await ip('-n', client, 'route', 'add', cidr, 'via', RIG.nodeIP)
      await ip('-n', node, 'route', 'add', cidr, 'via', RIG.stubIP)
    }
    await nsExecOk(node, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
    await nsExecOk(node, 'sysctl', ['-qw', 'net.ipv4.conf.all.send_redirects=0'])
  }

  private async wirePod(pod: string, dev: string, podIp: string): Promise<void> {
    const { node } = this
    await ip('-n', node, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod)
    await ip('-n', node, 'addr', 'add', `${RIG.podGateway}/32`, 'dev', dev)
    await ip('-n', node, 'link', 'set', dev, 'up')
    await ip('-n', node, 'route', 'add', `${podIp}/32`, 'dev', dev)
    await ip('-n', pod, 'addr', 'add', `${podIp}/32`, 'dev', 'eth0')
    await ip('-n', pod, 'link', 'set', 'eth0', 'up')
    await ip('-n', pod, 'route', 'add', RIG.podGateway, 'dev', 'eth0', 'scope', 'link')
    await ip('-n', pod, 'route', 'add', 'default', 'via', RIG.podGateway, 'dev', 'eth0')
  }

  private startServer(pod: string, podIp: string, ports: number[]): Promise<void> {
    // `ip netns exec` execs node in place, so the child pid is the server itself.
    const child = spawn('ip', ['netns', 'exec', pod, process.execPath, '-e', SERVER_JS, podIp, ...ports.map(String)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.servers.push(child)
    return new Promise((resolve, reject) => {
      let err = ''
      const timer = setTimeout(() => reject(new Error(`server ${podIp} not ready in 10 s: ${err}`)), 10_000)
      child.stderr?.on('data', (b: Buffer) => (err += b.toString()))
      child.stdout?.on('data', (b: Buffer) => {
        if (b.toString().includes('ready')) {
          clearTimeout(timer)
          resolve()
        }
      })
      child.on('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`server ${podIp} exited ${code}: ${err}`))
      })
    })
  }

  /** Loads a restore script into the node namespace (flush mode unless opts.noflush). */
  apply(text: string, opts: RestoreOptions = {}): Promise<RunResult> {
    return restore(this.node, this.backend, text, opts)
  }

  /** Makes `count` sequential connections per source and tallies who answered. */
  async connect(opts: ConnectOptions): Promise<ConnectResult> {
    const sources = opts.sources?.length ? opts.sources : [opts.fromNode ? RIG.nodeIP : RIG.clientIP]
    const timeoutMs = opts.timeoutMs ?? 1_000
    const arg = JSON.stringify({ host: opts.host, port: opts.port, count: opts.count, sources, timeoutMs })
    const budget = sources.length * opts.count * (timeoutMs + 200) + 10_000
    const r = await nsExecOk(opts.fromNode ? this.node : this.client, process.execPath, ['-e', CLIENT_JS, arg], {
      timeoutMs: budget,
    })
    const answers = JSON.parse(r.stdout) as Answer[]
    const counts: Record<string, number> = {}
    const bySource: Record<string, Record<string, number>> = {}
    for (const a of answers) {
      counts[a.answer] = (counts[a.answer] ?? 0) + 1
      const s = (bySource[a.source] ??= {})
      s[a.answer] = (s[a.answer] ?? 0) + 1
    }
    return { answers, counts, bySource }
  }

  /** Kills the servers and deletes every namespace of the rig. */
  async close(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve()
            c.once('exit', () => resolve())
            c.kill('SIGKILL')
          }),
      ),
    )
    for (const ns of this.namespaces.reverse()) await deleteNetns(ns)
  }
}

/** Builds a rig, runs `fn`, and always tears it down. */
export async function withTrafficRig<T>(opts: RigOptions, fn: (rig: TrafficRig) => Promise<T>): Promise<T> {
  const rig = new TrafficRig(opts)
  try {
    await rig.start()
    return await fn(rig)
  } finally {
    await rig.close()
  }
}

/**
 * Is each endpoint's share of `n` connections within `sigmas` standard deviations of a uniform
 * split? Binomial σ = sqrt(n·p·(1−p)), p = 1/k; at 4.5σ a false failure is ~1e-5 per endpoint.
 */
export function uniformShare(counts: Record<string, number>, endpoints: readonly string[], n: number, sigmas = 4.5): { ok: boolean; report: string } {
  const k = endpoints.length
  const expected = n / k
  const tol = sigmas * Math.sqrt(n * (1 / k) * (1 - 1 / k))
  const lines = endpoints.map((ep) => {
    const c = counts[ep] ?? 0
    return { ok: Math.abs(c - expected) <= tol, text: `${ep}: ${c}/${n} (expected ${expected.toFixed(1)} ± ${tol.toFixed(1)})` }
  })
  const unexpected = Object.keys(counts).filter((a) => !endpoints.includes(a))
  const ok = lines.every((l) => l.ok) && unexpected.length === 0
  const report = [...lines.map((l) => `${l.ok ? 'ok  ' : 'FAIL'} ${l.text}`), ...unexpected.map((u) => `FAIL unexpected ${u}=${counts[u]}`)]
  return { ok, report: report.join('\n') }
}
