/**
 * Writing the plan's buffers without a string object per line surviving.
 *
 * A 10k-service plan has ~430k lines, and nearly all of them live until the plan is dropped.
 * Built with template literals, each line would be a rope of 4-6 cons-string nodes, every one
 * copied by V8's young-generation GC when it survives. Here fragments are copied as bytes into
 * one reused buffer per plan buffer (filter chains, filter rules, nat chains, nat rules); once
 * it holds FLUSH_CHARS it is decoded into one flat string, and each segment's part becomes a
 * slice of it (one small SlicedString per non-empty buffer, not one per line; text that is not
 * ASCII is decoded a segment at a time, see Bytes). A segment's
 * boundaries are byte offsets recorded at `close`, so the text is never scanned.
 * A slice keeps its whole text alive: a segment kept on its own retains at most ~4 × FLUSH_CHARS
 * (~4 MiB; in practice reused segments share their texts with many others, see docs/planner.md).
 */
import type { Segment, SegmentBuffer, SegmentStats } from '../types.js'

export const FILTER_CHAINS = 0
export const FILTER_RULES = 1
export const NAT_CHAINS = 2
export const NAT_RULES = 3
export type BufferIndex = typeof FILTER_CHAINS | typeof FILTER_RULES | typeof NAT_CHAINS | typeof NAT_RULES

const NAMES: readonly SegmentBuffer[] = ['filterChains', 'filterRules', 'natChains', 'natRules']

/**
 * 1 MiB, just above Node's threshold for external strings (EXTERN_APEX, 0xFBEE9 characters, in
 * src/string_bytes.cc): each flushed text is copied once into memory from malloc and stays
 * there, outside V8's heap, rather than being copied twice more by the young-generation GC and
 * promoted into old-space pages touched for the first time. Those first touches were most of
 * the gap between a plan and JSON.parse: ~15 us per 4 KiB page on these VMs (a page-table
 * update is a hypercall), ~120 ms for a 10k-service plan's 31 MiB. malloc'd memory can be kept
 * and reused from one plan to the next: natplan's launchers tell glibc not to hand it back
 * (scripts/node, README "Memory"). Without that this size measured about the same as 64 KiB
 * texts on V8's heap (the previous choice), with more spread.
 */
const FLUSH_CHARS = 1024 * 1024

/**
 * The size of the texts a plan's last, shorter buffer is cut into (a 1k-service plan has only
 * those): below V8's largest regular heap object (128 KiB), since a text above it goes to
 * large-object space, fresh pages every time (~0.6 ms per 140 KiB text here, against ~35 us).
 */
const PIECE_CHARS = 64 * 1024

/** The segments whose part of one buffer is still in that buffer's bytes. */
interface Pending {
  segments: Segment[]
  /** End offset of each segment's part in the bytes (its start is the previous end, or 0). */
  ends: number[]
}

/**
 * One buffer's pending text as bytes: fragments are copied in, one byte per ASCII character, and
 * decoded at flush, ASCII as latin1 into one flat string that the segments slice. Text that is
 * not ASCII (Kubernetes names are, but the planner does not rely on it) is written as UTF-8 and
 * marks the buffer, whose segments are then decoded one by one. A lone UTF-16 surrogate, which
 * only a JSON `\ud800` escape can produce, comes out as U+FFFD, as Go's encoding/json decodes it
 * for kube-proxy (and as node:crypto hashes it for the chain names).
 */
export class Bytes {
  bytes: Buffer = Buffer.allocUnsafe(INITIAL_BYTES)
  /** A view of `bytes`, for copyAscii. */
  private view = viewOf(this.bytes)
  /** Bytes written. */
  length = 0
  /** Some byte is not ASCII: decode as UTF-8, a segment at a time. */
  utf8 = false
  /** Where `again` first wrote each slot's fragment in the current segment (-1: not yet), and its length. */
  private againAt = new Int32Array(8).fill(-1)
  private againLen = new Int32Array(8)

  add(a: string): void {
    const n = a.length
    let p = this.length
    let bytes = this.bytes
    if (p + n > bytes.length) bytes = this.grow(p + n)
    for (let i = 0; i < n; i++) {
      const c = a.charCodeAt(i)
      if (c > 0x7f) {
        this.length = p
        return this.addUtf8(a.slice(i))
      }
      bytes[p++] = c
    }
    this.length = p
  }

  /** An ASCII fragment already encoded (`asciiBytes`). */
  put(a: Ascii): void {
    this.putRange(a, 0, a.bytes.length)
  }

  /** Appends bytes [from, from + n) of `src`. */
  putRange(src: Ascii, from: number, n: number): void {
    const p = this.length
    if (p + n > this.bytes.length) this.grow(p + n)
    copyAscii(src.bytes, src.view, from, this.bytes, this.view, p, n)
    this.length = p + n
  }

  /** Appends a copy of bytes [from, from + n) of this text. */
  copy(from: number, n: number): void {
    const p = this.length
    if (p + n > this.bytes.length) this.grow(p + n)
    // UTF-8 bytes may not round-trip through a double (see copyAscii): the builtin copies them.
    if (this.utf8) this.bytes.copyWithin(p, from, from + n)
    else copyAscii(this.bytes, this.view, from, this.bytes, this.view, p, n)
    this.length = p + n
  }

  /**
   * Appends `a`, a fragment a service port repeats for each endpoint, kept in `slot` (0-7): the
   * first time it is copied in, later times copied from where it was first written (a
   * word copy, not a character loop), until `forget(slot)` or the segment's end (`forgetAll`).
   */
  again(slot: number, a: string): void {
    if (this.repeat(slot)) return
    const start = this.length
    this.add(a)
    this.mark(slot, start)
  }

  /** Makes bytes [start, length) `slot`'s fragment (see again), for one written in pieces. */
  mark(slot: number, start: number): void {
    this.againAt[slot] = start
    this.againLen[slot] = this.length - start
  }

  /** Appends `slot`'s fragment if it was written in this segment (see again); whether it was. */
  repeat(slot: number): boolean {
    const at = this.againAt[slot]!
    if (at < 0) return false
    this.copy(at, this.againLen[slot]!)
    return true
  }

  forget(slot: number): void {
    this.againAt[slot] = -1
  }

  forgetAll(): void {
    this.againAt.fill(-1)
  }

  /** One ASCII character (a newline). */
  byte(c: number): void {
    if (this.length === this.bytes.length) this.grow(this.length + 1)
    this.bytes[this.length++] = c
  }

  private addUtf8(a: string): void {
    // At most 3 bytes per UTF-16 code unit (a surrogate pair's 4 bytes are 2 units).
    if (this.length + 3 * a.length > this.bytes.length) this.grow(this.length + 3 * a.length)
    this.length += this.bytes.write(a, this.length, 'utf8')
    this.utf8 = true
  }

  private grow(min: number): Buffer {
    const next = Buffer.allocUnsafe(Math.max(min, this.bytes.length * 2))
    this.bytes.copy(next, 0, 0, this.length)
    this.bytes = next
    this.view = viewOf(next)
    return next
  }

  /** The text of bytes [from, to) (whole segments' parts: never inside a UTF-8 sequence). */
  text(from: number, to: number): string {
    return this.bytes.toString(this.utf8 ? 'utf8' : 'latin1', from, to)
  }

  /** The byte at offset `i` of the pending text. */
  code(i: number): number {
    return this.bytes[i]!
  }

  reset(): void {
    this.length = 0
    this.utf8 = false
  }
}

const INITIAL_BYTES = 256 * 1024
const NEWLINE = 10

const viewOf = (a: Uint8Array): DataView => new DataView(a.buffer, a.byteOffset, a.byteLength)

/** ASCII bytes (a constant fragment, or scratch the rule writers fill), with the view copyAscii reads them through. */
export class Ascii {
  readonly view: DataView
  constructor(readonly bytes: Uint8Array) {
    this.view = viewOf(bytes)
  }
}

/**
 * A constant ASCII fragment, encoded once: Bytes.put copies its bytes rather than reading a
 * string a character at a time (~4x faster).
 */
export function asciiBytes(s: string): Ascii {
  const a = new Uint8Array(s.length)
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c > 0x7f) throw new Error(`not ASCII: ${JSON.stringify(s)}`)
    a[i] = c
  }
  return new Ascii(a)
}

/**
 * Copies n ASCII bytes from `src` at `from` to `dst` at `to` (regions apart), eight at a time as
 * a double: a byte loop costs ~1.3 ns a byte here, a builtin copy ~17 ns a call, and this ~0.3 ns
 * a byte (a chain name's 25 bytes in ~7 ns instead of ~32). A double holds any 8 ASCII bytes
 * exactly: only NaNs are ever rewritten, and a NaN needs all 11 exponent bits set, so its 7th
 * byte (little-endian: the exponent's low bits on top) >= 0xF0, which ASCII never has. Long runs
 * go to the builtin.
 */
function copyAscii(src: Uint8Array, sv: DataView, from: number, dst: Uint8Array, dv: DataView, to: number, n: number): void {
  if (n > 64) {
    dst.set(src.subarray(from, from + n), to)
    return
  }
  let i = 0
  for (; i + 8 <= n; i += 8) dv.setFloat64(to + i, sv.getFloat64(from + i, true), true)
  for (; i < n; i++) dst[to + i] = src[from + i]!
}

export class SegmentWriter {
  /** The pending text of each buffer, as bytes. */
  private t: Bytes[] = [new Bytes(), new Bytes(), new Bytes(), new Bytes()]
  private pending: Pending[] = [0, 1, 2, 3].map(() => ({ segments: [], ends: [] }))
  /** End offsets in `t` when the current segment began. */
  private starts = [0, 0, 0, 0]
  /** Lines per buffer of the current segment. */
  private counts = [0, 0, 0, 0]
  /** The current segment's nat rules in chains it does not own (KUBE-SERVICES, KUBE-NODEPORTS), for stats. */
  private fixed = { kubeServices: 0, kubeNodePorts: 0, bytes: 0 }

  /**
   * `flushChars` 0 flushes every segment on its own: for incremental plans, whose few new
   * segments are kept across many versions — a shared text would stay alive as long as any one
   * of its segments is reused, holding the replaced ones' text too.
   */
  constructor(private readonly flushChars = FLUSH_CHARS) {}

  /** Buffer `buf`'s text, for hot loops that write many fragments of a line (then `lines(buf, n)`). */
  text(buf: BufferIndex): Bytes {
    return this.t[buf]!
  }

  /** Counts `n` lines written to buffer `buf` through `text(buf)`. */
  lines(buf: BufferIndex, n: number): void {
    this.counts[buf] += n
  }

  /** A whole line (already one string, without its newline). */
  line(buf: BufferIndex, text: string): void {
    const t = this.t[buf]!
    const start = t.length
    t.add(text)
    t.byte(NEWLINE)
    this.counts[buf]++
    if (buf === NAT_RULES) this.natRule(start)
  }

  /**
   * A nat rule line that began at `start` of the nat rules text is complete: for statistics, is it
   * in KUBE-SERVICES or KUBE-NODEPORTS, told by the characters at offsets 8-10 of
   * `-A KUBE-SERVICES` / `-A KUBE-NODEPORTS` (analysis/stats.ts reads the same facts back from the
   * lines). `line` calls it; so must any fragment-written nat rule that may land in those chains.
   */
  natRule(start: number): void {
    const t = this.t[NAT_RULES]!
    const c8 = t.code(start + 8)
    if (c8 === 83 && t.code(start + 9) === 69 && t.code(start + 10) === 82) this.fixed.kubeServices++
    else if (c8 === 78) this.fixed.kubeNodePorts++
    else return
    this.fixed.bytes += t.length - start
  }

  /**
   * The current segment is complete: its text-derived `stats` are filled in now, each of its
   * buffers when that buffer's text is next flushed (at the latest by `flush()`).
   */
  close(seg: Segment, stats?: SegmentStats): void {
    const c = this.counts
    if (stats) this.finishStats(stats)
    for (let b = 0; b < 4; b++) {
      const end = this.t[b]!.length
      if (end === this.starts[b]) continue
      const p = this.pending[b]!
      p.segments.push(seg)
      p.ends.push(end)
      this.starts[b] = end
      if (end >= this.flushChars) this.flushBuffer(b)
    }
    c[0] = c[1] = c[2] = c[3] = 0
    const f = this.fixed
    f.kubeServices = f.kubeNodePorts = f.bytes = 0
    for (const t of this.t) t.forgetAll()
  }

  /**
   * The text-derived statistics of the segment being closed, from what was counted while writing:
   * line counts, bytes (characters: the caller passes stats only for ASCII segments, see
   * service.ts), and the rules in chains the segment does not own.
   */
  private finishStats(st: SegmentStats): void {
    const c = this.counts
    const size = (b: number): number => this.t[b]!.length - this.starts[b]!
    st.lines = [c[0]!, c[1]!, c[2]!, c[3]!]
    st.declared = { filter: st.lines[0], nat: st.lines[2] }
    st.appended = { filter: st.lines[1], nat: st.lines[3] }
    st.filterBytes = size(0) + size(1)
    st.natBytes = size(2) + size(3)
    st.kubeServices = this.fixed.kubeServices
    st.kubeNodePorts = this.fixed.kubeNodePorts
    st.natFixed = { rules: this.fixed.kubeServices + this.fixed.kubeNodePorts, bytes: this.fixed.bytes }
  }

  /** Decode every pending text and cut it into its segments' buffers. */
  flush(): void {
    for (let b = 0; b < 4; b++) this.flushBuffer(b)
  }

  private flushBuffer(b: number): void {
    const t = this.t[b]!
    const p = this.pending[b]!
    const name = NAMES[b]!
    // A full buffer is one text; a plan's last, shorter one is cut into PIECE_CHARS texts at
    // segment boundaries. ASCII texts are decoded once and sliced; UTF-8 is decoded a segment
    // at a time.
    const piece = t.length >= this.flushChars ? t.length : PIECE_CHARS
    let pos = 0
    for (let i = 0; i < p.segments.length; ) {
      // segments [i, j): the most whose parts fit in one piece, at least one
      let j = i + 1
      while (j < p.segments.length && p.ends[j]! - pos <= piece) j++
      const end = p.ends[j - 1]!
      const text = t.utf8 ? '' : t.text(pos, end)
      for (let from = pos; i < j; i++) {
        const seg = p.segments[i]!
        const to = p.ends[i]!
        const part = t.utf8 ? t.text(from, to) : text.slice(from - pos, to - pos)
        seg[name] = seg[name] === '' ? part : seg[name] + part
        from = to
      }
      pos = end
    }
    t.reset()
    this.starts[b] = 0
    this.pending[b] = { segments: [], ends: [] }
  }
}
