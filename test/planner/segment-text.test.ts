/**
 * Segments hold each buffer as one newline-terminated text (src/planner/types.ts). The content
 * hash must stay the one computed when segments held line arrays — stored segment rows are keyed
 * by it — so it is checked here against that line-based definition, restated independently.
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { plan, renderRestore, segmentHash, toEnvelope } from '../../src/planner/index.js'
import { canonicalSegment } from '../../src/planner/iptables/hash.js'
import { generateSnapshot } from '../../src/planner/testing/generate.js'
import { lineCount, linesText, SEGMENT_BUFFERS, segmentLines, textLines, type Segment } from '../../src/planner/types.js'

/** The canonical form as it was defined over line arrays. */
function lineArrayCanonical(seg: Segment): string {
  const parts = ['natplan-segment/v1', `key ${seg.key}`, `service ${seg.service ?? ''}`, `protocol ${seg.protocol ?? ''}`]
  for (const b of SEGMENT_BUFFERS) {
    const lines = segmentLines(seg, b)
    parts.push(`${b} ${lines.length}`, ...lines)
  }
  return parts.join('\n') + '\n'
}

function planOf(doc: unknown) {
  const r = toEnvelope(JSON.parse(JSON.stringify(doc)))
  if (!r.ok) throw new Error(JSON.stringify(r.issues))
  return plan(r.envelope)
}

describe('segment buffers as texts', () => {
  const p = planOf(
    generateSnapshot({
      services: 40,
      endpointsPerService: 4,
      nodePort: 0.3,
      loadBalancer: 0.3,
      sourceRanges: 0.2,
      clientIPAffinity: 0.2,
      externalIPs: 0.2,
      portsPerService: 2,
    }),
  )
  const fp = p.families[0]!

  it('hash the same canonical text as line arrays did (stored hashes stay valid)', () => {
    for (const seg of fp.segments) {
      expect(canonicalSegment(seg)).toBe(lineArrayCanonical(seg))
      expect(segmentHash(seg)).toBe(createHash('sha256').update(lineArrayCanonical(seg)).digest('hex'))
    }
    // an empty buffer is `NAME 0` with no line
    const empty: Segment = { key: 'k', filterChains: '', filterRules: '', natChains: '', natRules: '' }
    expect(canonicalSegment(empty)).toBe('natplan-segment/v1\nkey k\nservice \nprotocol \nfilterChains 0\nfilterRules 0\nnatChains 0\nnatRules 0\n')
  })

  it('concatenate into the rendered restore input', () => {
    let filter = ''
    let nat = ''
    for (const s of fp.segments) filter += s.filterChains
    for (const s of fp.segments) filter += s.filterRules
    for (const s of fp.segments) nat += s.natChains
    for (const s of fp.segments) nat += s.natRules
    expect(renderRestore(fp)).toBe(`*filter\n${filter}COMMIT\n*nat\n${nat}COMMIT\n`)
  })

  it('round-trip through the line helpers', () => {
    expect(textLines('')).toEqual([])
    expect(linesText([])).toBe('')
    expect(textLines('a\n\nb\n')).toEqual(['a', '', 'b'])
    expect(lineCount('a\n\nb\n')).toBe(3)
    for (const seg of fp.segments) {
      for (const b of SEGMENT_BUFFERS) {
        expect(linesText(segmentLines(seg, b))).toBe(seg[b])
        expect(lineCount(seg[b])).toBe(segmentLines(seg, b).length)
      }
    }
  })
})
