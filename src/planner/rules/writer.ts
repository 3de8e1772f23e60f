/**
 * Writing the plan's buffers without a string object per line surviving.
 *
 * A 10k-service plan has ~430k lines, and nearly all of them live until the plan is dropped.
 * Built with template literals, each line is a rope of 4-6 cons-string nodes, and every object
 * that survives a scavenge is copied (twice) by V8's young-generation GC: that copying was the
 * largest cost of planning. Here the text of many segments is appended to four ropes (one per
 * buffer: filter chains, filter rules, nat chains, nat rules), which are flattened once their
 * text reaches FLUSH_CHARS (texts that large are allocated in V8's large-object space and never
 * copied by the GC); each segment's buffer is then one slice of its flat text (one small
 * SlicedString per non-empty buffer, not one per line). The rope nodes die young. A segment's
 * buffer boundaries are rope lengths recorded at `close`, so the flat text is never scanned.
 * A slice keeps its whole text alive: a segment kept on its own retains at most ~4 × FLUSH_CHARS.
 */
import type { Segment, SegmentBuffer, SegmentStats } from '../types.js'

export const FILTER_CHAINS = 0
export const FILTER_RULES = 1
export const NAT_CHAINS = 2
export const NAT_RULES = 3
export type BufferIndex = typeof FILTER_CHAINS | typeof FILTER_RULES | typeof NAT_CHAINS | typeof NAT_RULES

const NAMES: readonly SegmentBuffer[] = ['filterChains', 'filterRules', 'natChains', 'natRules']

/**
 * Just above V8's largest regular heap object (128 KiB), so flattened texts go to large-object
 * space (never copied by the scavenger), while the ropes being written (about 2 bytes of cons
 * node per text byte, copied when a scavenge finds them alive) stay small. Each buffer's rope
 * is flushed on its own when it reaches this size: flushing all four together when their sum
 * does would leave every flat text below the limit, allocated young and copied twice.
 */
const FLUSH_CHARS = 132 * 1024

/** The segments whose part of one buffer is still in that buffer's rope. */
interface Pending {
  segments: Segment[]
  /** End offset of each segment's part in the rope (its start is the previous end, or 0). */
  ends: number[]
  stats: Array<SegmentStats | undefined>
}

export class SegmentWriter {
  /** The pending text of each buffer: ropes of fragments, flattened at flush. */
  private t: string[] = ['', '', '', '']
  private pending: Pending[] = [0, 1, 2, 3].map(() => ({ segments: [], ends: [], stats: [] }))
  /** End offsets in `t` when the current segment began. */
  private starts = [0, 0, 0, 0]
  /** Lines per buffer of the current segment. */
  private counts = [0, 0, 0, 0]

  /**
   * `flushChars` 0 flushes every segment on its own: for incremental plans, whose few new
   * segments are kept across many versions — a shared text would stay alive as long as any one
   * of its segments is reused, holding the replaced ones' text too.
   */
  constructor(private readonly flushChars = FLUSH_CHARS) {}

  /** Append a fragment of the current line of buffer `buf`. */
  add(buf: BufferIndex, a: string): void {
    this.t[buf] += a
  }

  /** Ends the current line of buffer `buf`. */
  end(buf: BufferIndex): void {
    this.t[buf] += '\n'
    this.counts[buf]++
  }

  /**
   * Appends a fragment holding exactly one newline: it ends the current line of `buf` and starts
   * the next one (hot paths fold a line's constant tail, the newline and the next line's
   * constant head into one fragment).
   */
  next(buf: BufferIndex, a: string): void {
    this.t[buf] += a
    this.counts[buf]++
  }

  /** A whole line (already one string, without its newline). */
  line(buf: BufferIndex, text: string): void {
    this.t[buf] += text
    this.t[buf] += '\n'
    this.counts[buf]++
  }

  /**
   * The current segment is complete: each of its buffers is filled in when that buffer's rope
   * is next flushed (at the latest by `flush()`); so are the text-derived `stats`.
   */
  close(seg: Segment, stats?: SegmentStats): void {
    const c = this.counts
    if (stats) finishStats(stats, c)
    for (let b = 0; b < 4; b++) {
      const end = this.t[b]!.length
      if (end === this.starts[b]) continue
      const p = this.pending[b]!
      p.segments.push(seg)
      p.ends.push(end)
      p.stats.push(stats)
      this.starts[b] = end
      if (end >= this.flushChars) this.flushBuffer(b)
    }
    c[0] = c[1] = c[2] = c[3] = 0
  }

  /** Flatten every pending text and cut it into its segments' buffers. */
  flush(): void {
    for (let b = 0; b < 4; b++) this.flushBuffer(b)
  }

  private flushBuffer(b: number): void {
    const text = this.t[b]!
    const p = this.pending[b]!
    // Reading a character flattens a rope in place (its nodes die young); slices are then
    // views into the flat text.
    if (text.length > 0) text.charCodeAt(0)
    const name = NAMES[b]!
    let pos = 0
    for (let i = 0; i < p.segments.length; i++) {
      const seg = p.segments[i]!
      const end = p.ends[i]!
      const part = text.slice(pos, end)
      seg[name] = seg[name] === '' ? part : seg[name] + part
      const st = p.stats[i]
      if (st) countLines(st, b, part)
      pos = end
    }
    this.t[b] = ''
    this.starts[b] = 0
    this.pending[b] = { segments: [], ends: [], stats: [] }
  }
}

/** countLine for every line of one buffer text. */
function countLines(st: SegmentStats, kind: number, text: string): void {
  let pos = 0
  for (let end = text.indexOf('\n'); end >= 0; end = text.indexOf('\n', pos)) {
    countLine(st, kind, text, pos, end)
    pos = end + 1
  }
}

/**
 * What statistics need from the text of one line (analysis/stats.ts segmentStats reads the same
 * facts back from the lines): its bytes (ASCII: the caller passes stats only for ASCII segments),
 * and whether a nat rule lands in KUBE-SERVICES or KUBE-NODEPORTS (chains the segment does not
 * own), told by the characters at offsets 8-10 of `-A KUBE-SERVICES` / `-A KUBE-NODEPORTS`.
 */
function countLine(st: SegmentStats, kind: number, text: string, pos: number, end: number): void {
  const size = end - pos + 1
  if (kind < 2) {
    st.filterBytes += size
    return
  }
  st.natBytes += size
  if (kind !== 3) return
  const c8 = text.charCodeAt(pos + 8)
  if (c8 === 83 && text.charCodeAt(pos + 9) === 69 && text.charCodeAt(pos + 10) === 82) st.kubeServices++
  else if (c8 === 78) st.kubeNodePorts++
  else return
  st.natFixed.rules++
  st.natFixed.bytes += size
}

/** Line counts; every chain line the planner writes is a `:` declaration and every rule an `-A`. */
function finishStats(st: SegmentStats, counts: number[]): void {
  st.lines = [counts[0]!, counts[1]!, counts[2]!, counts[3]!]
  st.declared = { filter: st.lines[0], nat: st.lines[2] }
  st.appended = { filter: st.lines[1], nat: st.lines[3] }
}
