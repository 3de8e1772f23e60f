/**
 * Canonical JSON: object keys sorted by UTF-16 code unit order (JSON.stringify's default for
 * everything else), no whitespace. Two semantically equal Kubernetes objects therefore hash the
 * same whatever order kubectl or YAML produced their keys in — the content address.
 */
import { createHash } from 'node:crypto'

const INTEGER_KEY = /^(0|[1-9][0-9]*)$/

/** The straightforward definition; also the fallback for objects with integer-like keys. */
function canonicalSlow(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    // undefined / functions have no JSON form; inside objects they are skipped below.
    return JSON.stringify(value) ?? 'null'
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined || typeof v === 'function' ? 'null' : canonicalSlow(v))).join(',')}]`
  const obj = value as Record<string, unknown>
  const parts: string[] = []
  for (const key of Object.keys(obj).sort()) {
    const v = obj[key]
    if (v === undefined || typeof v === 'function') continue
    parts.push(`${JSON.stringify(key)}:${canonicalSlow(v)}`)
  }
  return `{${parts.join(',')}}`
}

class SlowPath extends Error {}

/**
 * The value with every object's keys in sorted order — the same object wherever nothing has to
 * move — for native JSON.stringify to serialise without a replacer, on its fast path: a third
 * faster than a key-sorting replacer, which V8 calls back for every value (20k objects of a
 * 10k-service snapshot: 0.23 s against 0.33 s). JavaScript enumerates integer-like keys first
 * whatever the insertion order, and a `__proto__` key cannot be set on a plain object: an object
 * with either (rare: a label named "1") makes the whole value take the slow path instead.
 */
function sortedDeep(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) {
    let out: unknown[] | undefined
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i]
      const s = sortedDeep(v)
      if (s !== v) (out ??= value.slice())[i] = s
    }
    return out ?? value
  }
  const obj = value as Record<string, unknown>
  const keys = Object.keys(obj)
  let sorted = true
  let changed: Map<string, unknown> | undefined
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!
    if (i > 0 && keys[i - 1]! > k) sorted = false
    const v = obj[k]
    const s = sortedDeep(v)
    if (s !== v) (changed ??= new Map()).set(k, s)
  }
  if (sorted && !changed) return value
  for (const k of keys) if (k === '__proto__' || INTEGER_KEY.test(k)) throw new SlowPath()
  const out: Record<string, unknown> = {}
  for (const k of sorted ? keys : keys.sort()) out[k] = changed?.has(k) ? changed.get(k) : obj[k]
  return out
}

export function canonicalJson(value: unknown): string {
  try {
    return JSON.stringify(sortedDeep(value)) ?? 'null'
  } catch (err) {
    if (err instanceof SlowPath) return canonicalSlow(value)
    throw err
  }
}

export { canonicalSlow as canonicalJsonReference }

export function sha256Hex(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex')
}

/**
 * A snapshot's identity: proxy settings plus the ordered item hashes (versioned prefix so a
 * future change of canonical form cannot collide with today's).
 */
export function snapshotSha256(proxyJson: string, objects: ReadonlyArray<{ sha256: string }>): string {
  const h = createHash('sha256').update('natplan-snapshot/v1\n').update(proxyJson).update('\n')
  for (const o of objects) h.update(o.sha256).update('\n')
  return h.digest('hex')
}

/** A plan's identity: per family the ordered segment storage keys, then warnings and counts. */
export function planSha256(
  families: ReadonlyArray<{ family: string; segments: ReadonlyArray<{ sha256: string }> }>,
  warnings: unknown,
  counts: unknown,
): string {
  const h = createHash('sha256').update('natplan-plan/v1\n')
  for (const f of families) {
    h.update(`family ${f.family} ${f.segments.length}\n`)
    for (const s of f.segments) h.update(s.sha256).update('\n')
  }
  h.update(canonicalJson(warnings)).update('\n').update(canonicalJson(counts))
  return h.digest('hex')
}
