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
 * A slice keeps its whole text alive: a segment kept on its own retains at most ~FLUSH_CHARS.
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
 * space, while the ropes being written (about 2 bytes of cons node per text byte, copied when a
 * scavenge finds them alive) stay small.
 */
const FLUSH_CHARS = 132 * 1024

export class SegmentWriter {
  /** The pending text of each buffer: ropes of fragments, flattened at flush. */
  private t: string[] = ['', '', '', '']
  /** Per pending segment: the end offset of each of its four buffers in `t` (4 per segment). */
  private ends: number[] = []
  private segments: Segment[] = []
  /** Lines per buffer of the current segment, then of each pending segment (4 per segment). */
  private counts = [0, 0, 0, 0]
  private pendingCounts: number[] = []
  /** Per pending segment: the statistics to fill in from its lines at flush, if any. */
  private pendingStats: Array<SegmentStats | undefined> = []

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

  /** The current segment is complete: its buffers are filled in at the next flush. */
  close(seg: Segment, stats?: SegmentStats): void {
    this.segments.push(seg)
    this.pendingStats.push(stats)
    const t = this.t
    this.ends.push(t[0]!.length, t[1]!.length, t[2]!.length, t[3]!.length)
    const c = this.counts
    this.pendingCounts.push(c[0]!, c[1]!, c[2]!, c[3]!)
    c[0] = c[1] = c[2] = c[3] = 0
    if (t[0]!.length + t[1]!.length + t[2]!.length + t[3]!.length >= this.flushChars) this.flush()
  }

  /** Flatten the pending texts and cut them into the pending segments' buffers. */
  flush(): void {
    const t = this.t
    // Reading a character flattens a rope in place (its nodes die young); slices are then
    // views into the flat text.
    for (const text of t) if (text.length > 0) text.charCodeAt(0)
    const pos = [0, 0, 0, 0]
    for (let i = 0; i < this.segments.length; i++) {
      const seg = this.segments[i]!
      for (let b = 0; b < 4; b++) {
        const end = this.ends[4 * i + b]!
        if (end === pos[b]) continue
        const part = t[b]!.slice(pos[b], end)
        const name = NAMES[b]!
        seg[name] = seg[name] === '' ? part : seg[name] + part
        pos[b] = end
      }
      const st = this.pendingStats[i]
      if (st) {
        countLines(st, FILTER_CHAINS, seg.filterChains)
        countLines(st, FILTER_RULES, seg.filterRules)
        countLines(st, NAT_CHAINS, seg.natChains)
        countLines(st, NAT_RULES, seg.natRules)
        finishStats(st, this.pendingCounts, i)
      }
    }
    this.t = ['', '', '', '']
    this.ends = []
    this.segments = []
    this.pendingCounts = []
    this.pendingStats = []
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
function finishStats(st: SegmentStats, counts: number[], i: number): void {
  st.lines = [counts[4 * i]!, counts[4 * i + 1]!, counts[4 * i + 2]!, counts[4 * i + 3]!]
  st.declared = { filter: st.lines[0], nat: st.lines[2] }
  st.appended = { filter: st.lines[1], nat: st.lines[3] }
}
