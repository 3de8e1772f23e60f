/**
 * `--probability` text for the i-th of n endpoints: 1/k printed with Go's `%0.10f`.
 *
 * Go rounds the EXACT binary value of the double half-to-even; JavaScript's toFixed rounds ties
 * up. They differ only on exact ties (k = 2048: Go `0.0004882812`, toFixed `0.0004882813`), so
 * we do the decimal rounding ourselves on the exact value with BigInt. kube-proxy caches these
 * strings (proxier.go probability()); so do we.
 */
const cache: string[] = []

export function probability(k: number): string {
  let s = cache[k]
  if (s === undefined) {
    s = formatFixed10(1 / k)
    cache[k] = s
  }
  return s
}

/** Go `%0.10f` for a finite double in [0, 1]. */
export function formatFixed10(x: number): string {
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, x)
  const hi = view.getUint32(0)
  const lo = view.getUint32(4)
  const exp = (hi >>> 20) & 0x7ff
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo)
  let e: number
  if (exp === 0) e = -1074
  else {
    mant |= 1n << 52n
    e = exp - 1075
  }
  // x = mant * 2^e exactly; we need round_half_even(x * 10^10).
  const scaled = mant * 10n ** 10n
  let q: bigint
  if (e >= 0) q = scaled << BigInt(e)
  else {
    const den = 1n << BigInt(-e)
    q = scaled / den
    const r2 = (scaled % den) * 2n
    if (r2 > den || (r2 === den && (q & 1n) === 1n)) q += 1n
  }
  const digits = q.toString().padStart(11, '0')
  return `${digits.slice(0, -10)}.${digits.slice(-10)}`
}
