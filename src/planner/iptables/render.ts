/**
 * Rendering a FamilyPlan as iptables-restore input.
 *
 * `kube-proxy` flavour: exactly the bytes kube-proxy hands to `iptables-restore --noflush`
 * (`*filter` chains rules `COMMIT` `*nat` chains rules `COMMIT`).
 * `standalone` flavour: additionally declares the built-in chains and writes what kube-proxy
 * installs outside its restore input (reference §15: jumps from the built-in chains, the
 * KUBE-PROXY-CANARY chains), so that a plain (flushing) `iptables-restore` on a bare node
 * reproduces the whole state. nfacct matches are left out there (see withoutNfacct).
 */
import { segmentLines, type FamilyPlan, type RenderOptions, type Segment, type SegmentBuffer as Buffer, type TableName } from '../types.js'

const BUILTINS: Record<TableName | 'mangle', string[]> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
}

const CANARY = 'KUBE-PROXY-CANARY'

/**
 * kube-proxy inserts each jump at position 1 (`iptables -I CHAIN 1`) in the order of its
 * iptablesJumpChains list, so the last one processed ends up first. These lists are already in
 * the resulting chain order.
 */
function builtinJumps(table: TableName, hasKubeFirewall: boolean): string[] {
  const svc = '-m comment --comment "kubernetes service portals"'
  const ext = '-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES'
  const fw = '-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL'
  if (table === 'nat') {
    return [
      `-A PREROUTING ${svc} -j KUBE-SERVICES`,
      `-A OUTPUT ${svc} -j KUBE-SERVICES`,
      '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    ]
  }
  const kfw = (c: string): string[] => (hasKubeFirewall ? [`-A ${c} -j KUBE-FIREWALL`] : [])
  return [
    ...kfw('INPUT'),
    `-A INPUT ${fw}`,
    '-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
    `-A INPUT ${ext}`,
    `-A FORWARD ${fw}`,
    '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
    `-A FORWARD -m conntrack --ctstate NEW ${svc} -j KUBE-SERVICES`,
    `-A FORWARD ${ext}`,
    ...kfw('OUTPUT'),
    `-A OUTPUT ${fw}`,
    `-A OUTPUT -m conntrack --ctstate NEW ${svc} -j KUBE-SERVICES`,
  ]
}

function hasKubeFirewall(fp: FamilyPlan): boolean {
  return fp.segments[0]?.filterChains.includes(':KUBE-FIREWALL - [0:0]\n') ?? false
}

/**
 * nfacct counters are kernel objects kube-proxy finds (or not) on the node; iptables-restore
 * cannot create them, and kube-proxy leaves the `-m nfacct` match out when the counter is absent
 * (proxier.go checks the counter at each full sync). A bare node has none, so the standalone
 * flavour renders those rules as kube-proxy would write them there: without the match.
 */
const NFACCT_MATCH = / -m nfacct --nfacct-name \S+/g

function withoutNfacct(text: string): string {
  return text.includes('nfacct') ? text.replace(NFACCT_MATCH, '') : text
}

/** Lines of one buffer over all segments, joined, in chunks of roughly `target` characters. */
function* bufferChunks(segments: Segment[], buf: Buffer, target: number, standalone = false): Generator<string> {
  let acc = ''
  for (const seg of segments) {
    const text = seg[buf]
    if (text === '') continue
    acc += standalone ? withoutNfacct(text) : text
    if (acc.length >= target) {
      yield acc
      acc = ''
    }
  }
  if (acc !== '') yield acc
}

function* tableChunks(fp: FamilyPlan, table: TableName, standalone: boolean, target: number): Generator<string> {
  let head = `*${table}\n`
  if (standalone) {
    head += BUILTINS[table].map((c) => `:${c} ACCEPT [0:0]\n`).join('') + `:${CANARY} - [0:0]\n`
  }
  yield head
  yield* bufferChunks(fp.segments, table === 'filter' ? 'filterChains' : 'natChains', target)
  if (standalone) yield builtinJumps(table, hasKubeFirewall(fp)).join('\n') + '\n'
  yield* bufferChunks(fp.segments, table === 'filter' ? 'filterRules' : 'natRules', target, standalone)
  yield 'COMMIT\n'
}

/** Streaming render: a 30k-service script never has to sit in one string. */
export function* renderRestoreChunks(fp: FamilyPlan, opts: RenderOptions = {}): Generator<string> {
  const table = opts.table ?? 'all'
  const standalone = (opts.flavour ?? 'kube-proxy') === 'standalone'
  const target = 64 * 1024
  if (table === 'all' || table === 'filter') yield* tableChunks(fp, 'filter', standalone, target)
  if (table === 'all' || table === 'nat') yield* tableChunks(fp, 'nat', standalone, target)
  // kube-proxy's iptables monitor keeps an empty canary in mangle too.
  if (standalone && table === 'all') {
    yield `*mangle\n${BUILTINS.mangle.map((c) => `:${c} ACCEPT [0:0]\n`).join('')}:${CANARY} - [0:0]\nCOMMIT\n`
  }
}

export function renderRestore(fp: FamilyPlan, opts: RenderOptions = {}): string {
  let out = ''
  for (const c of renderRestoreChunks(fp, opts)) out += c
  return out
}

export interface TableView {
  table: TableName
  /** Chains in declaration order; rules without their `-A CHAIN ` prefix, in order. */
  chains: { name: string; rules: string[] }[]
}

/** The JSON view of a family plan (kube-proxy flavour: only the chains kube-proxy declares). */
export function planTables(fp: FamilyPlan): TableView[] {
  return (['filter', 'nat'] as const).map((table) => {
    const chains = new Map<string, string[]>()
    const chainBuf: Buffer = table === 'filter' ? 'filterChains' : 'natChains'
    const ruleBuf: Buffer = table === 'filter' ? 'filterRules' : 'natRules'
    for (const seg of fp.segments) for (const l of segmentLines(seg, chainBuf)) chains.set(l.slice(1, l.indexOf(' ')), [])
    for (const seg of fp.segments) {
      for (const l of segmentLines(seg, ruleBuf)) {
        if (!l.startsWith('-A ')) continue
        const sp = l.indexOf(' ', 3)
        const name = sp < 0 ? l.slice(3) : l.slice(3, sp)
        let rules = chains.get(name)
        if (!rules) chains.set(name, (rules = []))
        rules.push(sp < 0 ? '' : l.slice(sp + 1))
      }
    }
    return { table, chains: [...chains].map(([name, rules]) => ({ name, rules })) }
  })
}
