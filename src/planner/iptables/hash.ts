/**
 * Content address of a segment: sha256 (hex) of a canonical serialisation. The serialisation is
 * versioned and line-based so that it is cheap and unambiguous (lines never contain `\n`).
 */
import { createHash } from 'node:crypto'
import { lineCount, SEGMENT_BUFFERS, type Segment } from '../types.js'

/**
 * `natplan-segment/v1`, key, service, protocol, then per buffer `NAME COUNT` and its lines, each
 * line followed by "\n". Unchanged since segments held line arrays: stored hashes stay valid.
 */
export function canonicalSegment(seg: Segment): string {
  let out = `natplan-segment/v1\nkey ${seg.key}\nservice ${seg.service ?? ''}\nprotocol ${seg.protocol ?? ''}\n`
  for (const b of SEGMENT_BUFFERS) out += `${b} ${lineCount(seg[b])}\n${seg[b]}`
  return out
}

const hashes = new WeakMap<Segment, string>()

/**
 * Memoised per segment object: a segment does not change once the planner has returned it, and
 * plans share unchanged segments (the planner's `reuse`, plans loaded from the content-addressed
 * store), so a re-plan hashes only its new segments — once, for every caller.
 */
export function segmentHash(seg: Segment): string {
  let h = hashes.get(seg)
  if (h === undefined) hashes.set(seg, (h = createHash('sha256').update(canonicalSegment(seg)).digest('hex')))
  return h
}

/** The segment's hash if it was computed already, without computing it. */
export function knownSegmentHash(seg: Segment): string | undefined {
  return hashes.get(seg)
}
