/**
 * Content address of a segment: sha256 (hex) of a canonical serialisation. The serialisation is
 * versioned and line-based so that it is cheap and unambiguous (lines never contain `\n`).
 */
import { createHash } from 'node:crypto'
import type { Segment } from '../types.js'

export function canonicalSegment(seg: Segment): string {
  const parts = [
    'natplan-segment/v1',
    `key ${seg.key}`,
    `service ${seg.service ?? ''}`,
    `protocol ${seg.protocol ?? ''}`,
  ]
  for (const b of ['filterChains', 'filterRules', 'natChains', 'natRules'] as const) {
    parts.push(`${b} ${seg[b].length}`, ...seg[b])
  }
  return parts.join('\n') + '\n'
}

export function segmentHash(seg: Segment): string {
  return createHash('sha256').update(canonicalSegment(seg)).digest('hex')
}
