/**
 * Compact manifests: an ordered list of row ids (objects of a snapshot, segments of a plan)
 * stored as ONE bytea per snapshot/plan instead of a row per reference. Each id is written as
 * the zigzag-encoded difference from the previous id in LEB128 varint form: ids allocated
 * together are close, so most entries take 2-3 bytes, versus ~40 bytes for a join-table row
 * (tuple header + two int8 + index entry). 20 versions of a 30k-reference cluster then cost
 * ~1-2 MB of manifests instead of ~50 MB of reference rows.
 */

/** Zigzag doubles a delta: ids up to 2^51 keep every intermediate a safe integer. */
export const MAX_ID = 2 ** 51

export function encodeIds(ids: readonly number[]): Buffer {
  const out = Buffer.allocUnsafe(ids.length * 9)
  let pos = 0
  let prev = 0
  for (const id of ids) {
    if (!Number.isSafeInteger(id) || id < 0 || id > MAX_ID) throw new RangeError(`manifest id out of range: ${id}`)
    const delta = id - prev
    prev = id
    // zigzag without 32-bit bitwise operators: ids may exceed 2^31.
    let z = delta >= 0 ? delta * 2 : -delta * 2 - 1
    while (z >= 0x80) {
      out[pos++] = (z % 0x80) | 0x80
      z = Math.floor(z / 0x80)
    }
    out[pos++] = z
  }
  return Buffer.from(out.subarray(0, pos))
}

export function decodeIds(buf: Uint8Array): number[] {
  const ids: number[] = []
  let pos = 0
  let prev = 0
  while (pos < buf.length) {
    let z = 0
    let mul = 1
    for (;;) {
      if (pos >= buf.length) throw new RangeError('truncated manifest')
      const b = buf[pos++]!
      z += (b & 0x7f) * mul
      if (b < 0x80) break
      mul *= 0x80
    }
    const delta = z % 2 === 0 ? z / 2 : -(z + 1) / 2
    prev += delta
    ids.push(prev)
  }
  return ids
}
