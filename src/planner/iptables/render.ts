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
import { segmentLines, type FamilyPlan, type RenderOptions, type Segment, type SegmentBuffer, type TableName } from '../types.js'

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

/** One buffer's text of every segment, in order, as the segments hold it (no copy). */
function* bufferPieces(segments: Segment[], buf: SegmentBuffer, standalone = false): Generator<string> {
  for (const seg of segments) {
    const text = seg[buf]
    if (text !== '') yield standalone ? withoutNfacct(text) : text
  }
}

function* tablePieces(fp: FamilyPlan, table: TableName, standalone: boolean): Generator<string> {
  let head = `*${table}\n`
  if (standalone) {
    head += BUILTINS[table].map((c) => `:${c} ACCEPT [0:0]\n`).join('') + `:${CANARY} - [0:0]\n`
  }
  yield head
  yield* bufferPieces(fp.segments, table === 'filter' ? 'filterChains' : 'natChains')
  if (standalone) yield builtinJumps(table, hasKubeFirewall(fp)).join('\n') + '\n'
  yield* bufferPieces(fp.segments, table === 'filter' ? 'filterRules' : 'natRules', standalone)
  yield 'COMMIT\n'
}

/** The script as the pieces it is made of: the one layout the functions below join in their ways. */
function* restorePieces(fp: FamilyPlan, opts: RenderOptions): Generator<string> {
  const table = opts.table ?? 'all'
  const standalone = (opts.flavour ?? 'kube-proxy') === 'standalone'
  if (table === 'all' || table === 'filter') yield* tablePieces(fp, 'filter', standalone)
  if (table === 'all' || table === 'nat') yield* tablePieces(fp, 'nat', standalone)
  // kube-proxy's iptables monitor keeps an empty canary in mangle too.
  if (standalone && table === 'all') {
    yield `*mangle\n${BUILTINS.mangle.map((c) => `:${c} ACCEPT [0:0]\n`).join('')}:${CANARY} - [0:0]\nCOMMIT\n`
  }
}

/** Streaming render, in chunks of at least 64 KiB: a 30k-service script never has to sit in one string. */
export function* renderRestoreChunks(fp: FamilyPlan, opts: RenderOptions = {}): Generator<string> {
  let acc = ''
  for (const piece of restorePieces(fp, opts)) {
    acc += piece
    if (acc.length >= 64 * 1024) {
      yield acc
      acc = ''
    }
  }
  if (acc !== '') yield acc
}

export function renderRestore(fp: FamilyPlan, opts: RenderOptions = {}): string {
  let out = ''
  for (const c of restorePieces(fp, opts)) out += c
  return out
}

/**
 * A piece of `bytes` UTF-8 bytes, written at `at`. The writer writes only ASCII
 * (../rules/writer.ts), for which Latin-1 is UTF-8 and a plain copy, where encoding as UTF-8
 * examines every byte (~0.1 s of a 32 MB script); a piece that is not ASCII (its UTF-8 length
 * says so) is encoded as UTF-8.
 */
function writePiece(out: Buffer, p: string, bytes: number, at: number): number {
  return bytes === p.length ? out.write(p, at, 'latin1') : out.write(p, at)
}

/**
 * The script's bytes, each piece written straight from the slice of the planner's flat text it is
 * (docs/performance.md, "external texts"): joining the pieces into a string first makes a rope
 * that encoding must flatten. One Buffer, for callers that keep or compress the whole script.
 */
export function renderRestoreBytes(fp: FamilyPlan, opts: RenderOptions = {}): Buffer {
  const pieces = [...restorePieces(fp, opts)]
  const lengths = pieces.map((p) => Buffer.byteLength(p))
  const out = Buffer.allocUnsafe(lengths.reduce((a, b) => a + b, 0))
  let at = 0
  pieces.forEach((p, i) => (at += writePiece(out, p, lengths[i]!, at)))
  return out
}

/**
 * The same bytes in Buffers of about `size` (a piece longer than that is a Buffer of its own),
 * for a caller that writes them out and lets them go: memory freed by one is reused by the next,
 * where a 32 MB script in one fresh Buffer costs a page fault per 4 KiB (~0.1 s of `natplan plan`).
 */
export function* renderRestoreBuffers(fp: FamilyPlan, opts: RenderOptions = {}, size = 1024 * 1024): Generator<Buffer> {
  let buf = Buffer.allocUnsafe(size)
  let at = 0
  for (const p of restorePieces(fp, opts)) {
    const n = Buffer.byteLength(p)
    if (at + n > size && at > 0) {
      yield buf.subarray(0, at)
      buf = Buffer.allocUnsafe(size)
      at = 0
    }
    if (n > size) yield Buffer.from(p)
    else at += writePiece(buf, p, n, at)
  }
  if (at > 0) yield buf.subarray(0, at)
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
    const chainBuf: SegmentBuffer = table === 'filter' ? 'filterChains' : 'natChains'
    const ruleBuf: SegmentBuffer = table === 'filter' ? 'filterRules' : 'natRules'
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
