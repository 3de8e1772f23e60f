/**
 * The fast writer of a plan's buffers: the bytes of every line are copied into one reused buffer
 * per plan buffer (filter chains, filter rules, nat chains, nat rules), which is decoded into a
 * few large flat strings that the segments slice. No string object per line survives: a
 * 10k-service plan has ~430k lines, and one string each would be copied by V8's young-generation
 * GC as they survive. Why each choice, and what it measured, is in docs/performance.md.
 *
 * A segment is written between `begin()` and `end(seg)`. Each line is begun with what it is for
 * the statistics (./books.ts) and ended with `end()`: the writer keeps the segment's books, so
 * callers count nothing. Everything written is ASCII: input words are checked before they are
 * written (src/planner/iptables/words.ts), and `add` refuses anything else.
 */
import type { Segment, SegmentBuffer, SegmentStats } from '../types.js'
import { CHAIN, OWN, SegmentBooks, type BufferIndex } from './books.js'

export { FILTER_CHAINS, FILTER_RULES, NAT_CHAINS, NAT_RULES, type BufferIndex } from './books.js'

const NAMES: readonly SegmentBuffer[] = ['filterChains', 'filterRules', 'natChains', 'natRules']
const NEWLINE = 10

/** A full buffer is decoded into one text of this size (docs/performance.md, "external texts"). */
const FLUSH_CHARS = 1024 * 1024
/** A plan's last, shorter buffer is cut into texts of at most this size (same place). */
const PIECE_CHARS = 64 * 1024
const INITIAL_BYTES = 256 * 1024

const viewOf = (a: Uint8Array): DataView => new DataView(a.buffer, a.byteOffset, a.byteLength)

/** ASCII bytes (a constant fragment, or scratch the rule writers fill), with the view `copyAscii` reads them through. */
export class Ascii {
  readonly view: DataView
  constructor(readonly bytes: Uint8Array) {
    this.view = viewOf(bytes)
  }
}

/** A constant ASCII fragment, encoded once (copied rather than read a character at a time). */
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
 * a double: any eight ASCII bytes are an exact, non-NaN double (a NaN needs a byte >= 0xF0), so
 * nothing is rewritten on the way. Long runs go to the builtin.
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

/** Bytes being written: one buffer's pending text, or a segment's scratch of fragments. */
export class Bytes {
  bytes: Buffer = Buffer.allocUnsafe(INITIAL_BYTES)
  private view = viewOf(this.bytes)
  length = 0

  /** An ASCII string (a word from the input, already checked, or text built from constants). */
  add(a: string): void {
    const n = a.length
    let p = this.length
    const bytes = p + n > this.bytes.length ? this.grow(p + n) : this.bytes
    for (let i = 0; i < n; i++) {
      const c = a.charCodeAt(i)
      if (c > 0x7f) throw new Error(`the writer only writes ASCII: ${JSON.stringify(a)}`)
      bytes[p++] = c
    }
    this.length = p
  }

  /** A constant fragment. */
  put(a: Ascii): void {
    this.putRange(a, 0, a.bytes.length)
  }

  /** Bytes [from, from + n) of `src`. */
  putRange(src: Ascii, from: number, n: number): void {
    const p = this.length
    if (p + n > this.bytes.length) this.grow(p + n)
    copyAscii(src.bytes, src.view, from, this.bytes, this.view, p, n)
    this.length = p + n
  }

  /** Bytes [from, from + n) of another Bytes (a fragment: see Fragments). */
  putFrom(src: Bytes, from: number, n: number): void {
    const p = this.length
    if (p + n > this.bytes.length) this.grow(p + n)
    copyAscii(src.bytes, src.view, from, this.bytes, this.view, p, n)
    this.length = p + n
  }

  byte(c: number): void {
    if (this.length === this.bytes.length) this.grow(this.length + 1)
    this.bytes[this.length++] = c
  }

  private grow(min: number): Buffer {
    const next = Buffer.allocUnsafe(Math.max(min, this.bytes.length * 2))
    this.bytes.copy(next, 0, 0, this.length)
    this.bytes = next
    this.view = viewOf(next)
    return next
  }

  /** The text of bytes [from, to). */
  text(from: number, to: number): string {
    return this.bytes.toString('latin1', from, to)
  }

  reset(): void {
    this.length = 0
  }
}

/**
 * A segment's repeated fragments: a service port writes the same ` -m comment --comment NAME`
 * (and the like) once per endpoint; each is encoded here once and copied from here after. A
 * fragment is a number, valid until the segment ends.
 */
export class Fragments {
  private readonly scratch = new Bytes()
  private from: number[] = []
  private len: number[] = []

  /** A fragment made of `parts`, in order. */
  of(...parts: Array<string | Ascii>): number {
    const start = this.scratch.length
    for (const p of parts) {
      if (typeof p === 'string') this.scratch.add(p)
      else this.scratch.put(p)
    }
    this.from.push(start)
    this.len.push(this.scratch.length - start)
    return this.from.length - 1
  }

  copyTo(dst: Bytes, fragment: number): void {
    dst.putFrom(this.scratch, this.from[fragment]!, this.len[fragment]!)
  }

  reset(): void {
    this.scratch.reset()
    this.from.length = 0
    this.len.length = 0
  }
}

/** One of a plan's four buffers: lines begun with what they are (./books.ts), ended by `end()`. */
export class Lines {
  readonly bytes = new Bytes()
  private start = 0
  private what = OWN

  constructor(
    private readonly buffer: BufferIndex,
    private readonly books: SegmentBooks,
  ) {}

  /** Begins a line; its text is then written to `bytes`. */
  begin(what: number): Bytes {
    this.start = this.bytes.length
    this.what = what
    return this.bytes
  }

  /** Ends the line begun. */
  end(): void {
    this.bytes.byte(NEWLINE)
    this.books.line(this.buffer, this.bytes.length - this.start, this.what)
  }

  /** A whole line from one string. */
  line(text: string, what: number = this.buffer === 0 || this.buffer === 2 ? CHAIN : OWN): void {
    this.begin(what).add(text)
    this.end()
  }
}

/** The segments whose part of one buffer is still in that buffer's bytes. */
interface Pending {
  segments: Segment[]
  /** End offset of each segment's part in the bytes (its start is the previous end, or 0). */
  ends: number[]
}

export class SegmentWriter {
  private readonly books = new SegmentBooks()
  readonly filterChains = new Lines(0, this.books)
  readonly filterRules = new Lines(1, this.books)
  readonly natChains = new Lines(2, this.books)
  readonly natRules = new Lines(3, this.books)
  /** The current segment's repeated fragments. */
  readonly fragments = new Fragments()
  private readonly buffers = [this.filterChains, this.filterRules, this.natChains, this.natRules]
  private pending: Pending[] = [0, 1, 2, 3].map(() => ({ segments: [], ends: [] }))
  /** End offsets of each buffer's bytes when the current segment began. */
  private starts = [0, 0, 0, 0]

  /**
   * `flushChars` 0 gives every segment texts of its own: for incremental plans, whose few new
   * segments are kept across many versions (a shared text lives as long as any of its segments).
   */
  constructor(private readonly flushChars = FLUSH_CHARS) {}

  begin(): void {
    this.books.reset()
    this.fragments.reset()
  }

  /**
   * The current segment is complete; its statistics are returned (the caller adds its type and
   * service). Its buffers are filled in when their texts are next flushed (at the latest by
   * `flush()`).
   */
  end(seg: Segment): SegmentStats {
    for (let b = 0; b < 4; b++) {
      const end = this.buffers[b]!.bytes.length
      if (end === this.starts[b]) continue
      const p = this.pending[b]!
      p.segments.push(seg)
      p.ends.push(end)
      this.starts[b] = end
      if (end >= this.flushChars) this.flushBuffer(b)
    }
    return this.books.finish()
  }

  /** Decode every pending text and cut it into its segments' buffers. */
  flush(): void {
    for (let b = 0; b < 4; b++) this.flushBuffer(b)
  }

  private flushBuffer(b: number): void {
    const t = this.buffers[b]!.bytes
    const p = this.pending[b]!
    const name = NAMES[b]!
    // A full buffer is one text; a plan's last, shorter one is cut into PIECE_CHARS texts at
    // segment boundaries. Each text is decoded once and sliced.
    const piece = t.length >= this.flushChars ? t.length : PIECE_CHARS
    let pos = 0
    for (let i = 0; i < p.segments.length;) {
      // segments [i, j): the most whose parts fit in one piece, at least one
      let j = i + 1
      while (j < p.segments.length && p.ends[j]! - pos <= piece) j++
      const end = p.ends[j - 1]!
      const text = t.text(pos, end)
      for (let from = pos; i < j; i++) {
        const seg = p.segments[i]!
        const to = p.ends[i]!
        const part = text.slice(from - pos, to - pos)
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
