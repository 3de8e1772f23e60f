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

export function segmentHash(seg: Segment): string {
  return createHash('sha256').update(canonicalSegment(seg)).digest('hex')
}
