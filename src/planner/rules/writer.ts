/**
 * Writing the plan's lines without a string object per line fragment surviving.
 *
 * A 10k-service plan has ~430k lines, and nearly all of them live until the plan is dropped.
 * Built with template literals, each line is a rope of 4-6 cons-string nodes, and every object
 * that survives a scavenge is copied (twice) by V8's young-generation GC: that copying was the
 * largest cost of planning. Here the text of many segments is appended to one rope, which is
 * flattened once it reaches FLUSH_CHARS (texts that large are allocated in V8's large-object
 * space and never copied by the GC); each line then becomes a slice of that flat text (one
 * small SlicedString). The rope's nodes die young. Line boundaries are recorded as offsets
 * while writing (a rope knows its length), so the flat text is never scanned.
 * A slice keeps its whole text alive: a segment kept on its own retains at most ~FLUSH_CHARS
 * plus its own lines.
 */
import type { Segment, SegmentStats } from '../types.js'

export const FILTER_CHAINS = 0
export const FILTER_RULES = 1
export const NAT_CHAINS = 2
export const NAT_RULES = 3
export type BufferIndex = typeof FILTER_CHAINS | typeof FILTER_RULES | typeof NAT_CHAINS | typeof NAT_RULES

/**
 * Just above V8's largest regular heap object (128 KiB), so flattened texts go to large-object
 * space, while the rope being written (about 2 bytes of cons node per text byte, copied when a
 * scavenge finds it alive) stays small.
 */
const FLUSH_CHARS = 132 * 1024

export class SegmentWriter {
  /** The pending text: a rope of fragments, flattened at flush. */
  private text = ''
  /** Per pending line: end offset in `text`, buffer (0-3), index of its segment in `segments`. */
  private ends = new Int32Array(1024)
  private kinds = new Uint8Array(1024)
  private owners = new Int32Array(1024)
  private lines = 0
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

  /** Append a fragment of the current line. */
  add(a: string): void {
    this.text += a
  }

  /** Ends the current line (fragments added with `add`) in buffer `buf` of the current segment. */
  end(buf: BufferIndex): void {
    this.endAt(buf, 0)
    this.text += '\n'
  }

  /**
   * Ends the current line `offset` characters into the next fragment, which the caller appends
   * right after and which holds the newline at that offset (hot paths fold a line's constant
   * tail, the newline and the next line's constant head into one fragment).
   */
  endAt(buf: BufferIndex, offset: number): void {
    if (this.lines === this.ends.length) this.grow()
    this.ends[this.lines] = this.text.length + offset
    this.kinds[this.lines] = buf
    this.owners[this.lines++] = this.segments.length
    this.counts[buf]++
  }

  /** A whole line (already one string). */
  line(buf: BufferIndex, text: string): void {
    this.text += text
    this.end(buf)
  }

  /** The current segment is complete: its lines are filled in at the next flush. */
  close(seg: Segment, stats?: SegmentStats): void {
    this.segments.push(seg)
    this.pendingStats.push(stats)
    const c = this.counts
    this.pendingCounts.push(c[0]!, c[1]!, c[2]!, c[3]!)
    c[0] = c[1] = c[2] = c[3] = 0
    if (this.text.length >= this.flushChars) this.flush()
  }

  /** Flatten the pending text and cut it into the pending segments' buffers. */
  flush(): void {
    const text = this.text
    const counts = this.pendingCounts
    // Each buffer is allocated at its final length (no growing, no slack); fill[j] is the next
    // free index of bufs[j], four buffers per pending segment.
    const bufs: string[][] = []
    for (let i = 0; i < this.segments.length; i++) {
      const seg = this.segments[i]!
      seg.filterChains = extended(seg.filterChains, counts[4 * i]!)
      seg.filterRules = extended(seg.filterRules, counts[4 * i + 1]!)
      seg.natChains = extended(seg.natChains, counts[4 * i + 2]!)
      seg.natRules = extended(seg.natRules, counts[4 * i + 3]!)
      bufs.push(seg.filterChains, seg.filterRules, seg.natChains, seg.natRules)
    }
    const fill = bufs.map((b, j) => b.length - counts[j]!)
    let pos = 0
    for (let i = 0; i < this.lines; i++) {
      const end = this.ends[i]!
      const j = 4 * this.owners[i]! + this.kinds[i]!
      // The first slice flattens the rope; the rest are views into the flat text.
      bufs[j]![fill[j]!++] = text.slice(pos, end)
      const st = this.pendingStats[this.owners[i]!]
      if (st) countLine(st, this.kinds[i]!, text, pos, end)
      pos = end + 1
    }
    for (let i = 0; i < this.segments.length; i++) {
      const st = this.pendingStats[i]
      if (st) finishStats(st, counts, i)
    }
    this.text = ''
    this.lines = 0
    this.segments = []
    this.pendingCounts = []
    this.pendingStats = []
  }

  private grow(): void {
    const n = this.ends.length * 2
    const ends = new Int32Array(n)
    const kinds = new Uint8Array(n)
    const owners = new Int32Array(n)
    ends.set(this.ends)
    kinds.set(this.kinds)
    owners.set(this.owners)
    this.ends = ends
    this.kinds = kinds
    this.owners = owners
  }
}

/** `lines` followed by n empty slots (the same array when n is 0). */
function extended(lines: string[], n: number): string[] {
  if (n === 0) return lines
  const out = new Array<string>(lines.length + n)
  for (let i = 0; i < lines.length; i++) out[i] = lines[i]!
  return out
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
