/**
 * A JSON snapshot's items as byte ranges of the body, found without parsing it: the ingest worker
 * hashes each item's bytes, and an item sent byte for byte as in the cluster's previous version is
 * that version's item, already parsed and validated (./ingest-prepare.ts). Agents re-POST whole
 * snapshots in which 1 % of the objects changed; parsing 28 MB to find the 200 that did was most of
 * a re-ingest.
 *
 * Only an unambiguous layout of objects is reported (anything else in the array — a number, a
 * string, an array — is no snapshot item, and a million two-byte elements would cost more to hash
 * than to parse): the body is one object, and the array is its
 * `resources` (an array), its `resources.items`, or, without `resources`, its `items` — where
 * ./ingest-cache.ts rawItems looks — each key present once and written without escapes (so no
 * other spelling of the same key can be the one JSON.parse keeps). Anything else, and a body too
 * deep or holding an escaped NUL, is null: the caller parses the whole text, whose parser then
 * names the problem exactly as for any other body.
 */
import { hash } from 'node:crypto'
import { secureJsonParse } from './parse-body.js'

export interface ItemsLayout {
  /** Where the array is in the document, and the depth of its elements. */
  path: 'resources' | 'resources.items' | 'items'
  depth: number
  /** Offsets of the array's `[` and `]`. */
  open: number
  close: number
  /** Element i is bytes [starts[i], ends[i]), whitespace around it excluded. */
  starts: number[]
  ends: number[]
  /**
   * fingerprintOf each element's bytes, when they were needed to recognise the previous body's
   * items; else empty until `layoutFingerprints` computes them (for a body found valid).
   */
  fingerprints: string[]
}

/** The smallest snapshot item, `{"kind":"A"}`: shorter elements make the layout null. */
const MIN_ITEM_BYTES = 12

/** Every element's fingerprint (computed now unless recognising items did). */
export function layoutFingerprints(body: Uint8Array, layout: ItemsLayout): string[] {
  if (layout.fingerprints.length !== layout.starts.length) layout.fingerprints = layout.starts.map((s, i) => fingerprintOf(body, s, layout.ends[i]!))
  return layout.fingerprints
}

/** What the next layout of the same cluster's body may reuse of this one (see `itemsLayout`). */
export interface LayoutMemory {
  path: ItemsLayout['path']
  depth: number
  maxDepth: number
  lengths: number[]
  fingerprints: string[]
}

/** What the next body may reuse of this layout; its fingerprints must be complete (layoutFingerprints). */
export function memoryOf(layout: ItemsLayout, maxDepth: number): LayoutMemory {
  return {
    path: layout.path,
    depth: layout.depth,
    maxDepth,
    lengths: layout.starts.map((s, i) => layout.ends[i]! - s),
    fingerprints: layout.fingerprints,
  }
}

/**
 * sha256 of an element's bytes (the one-shot crypto.hash: 20k items hash in half the time of a
 * createHash object per item). Bytes that are `JSON.stringify(item)` give ingest-cache.ts's
 * rawFingerprint of the item, so one map holds both kinds.
 */
export function fingerprintOf(bytes: Uint8Array, from: number, to: number): string {
  return hash('sha256', bytes.subarray(from, to), 'base64')
}

const QUOTE = 0x22
const BACKSLASH = 0x5c
const COLON = 0x3a
const COMMA = 0x2c
const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0))
const ITEMS = ascii('items')
const RESOURCES = ascii('resources')
const NUL_ESCAPE = ascii('\\u0000')

function equals(bytes: Uint8Array, from: number, to: number, word: Uint8Array): boolean {
  if (to - from !== word.length) return false
  for (let i = 0; i < word.length; i++) if (bytes[from + i] !== word[i]) return false
  return true
}

/** The offset of the quote closing the string opened at `open`, or -1; a backslash escapes the byte after it. */
function closingQuote(bytes: Uint8Array, open: number): number {
  const n = bytes.length
  let i = open + 1
  while (i < n && bytes[i] !== QUOTE) i += bytes[i] === BACKSLASH ? 2 : 1
  return i < n ? i : -1
}

/**
 * The offset of the bracket closing the array or object opened at `open`, at `depth` once open;
 * -1 when it nests deeper than `maxDepth` or does not close. The tight loop most of a body's
 * bytes go through: an item is skipped, not read.
 */
function closingBracket(bytes: Uint8Array, open: number, depth: number, maxDepth: number): number {
  const n = bytes.length
  const base = depth - 1
  for (let i = open + 1; i < n; i++) {
    const c = bytes[i]!
    if (c === QUOTE) {
      // closingQuote, inlined: a call here measured ~15 % slower over a 28 MB body.
      i++
      while (i < n && bytes[i] !== QUOTE) i += bytes[i] === BACKSLASH ? 2 : 1
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return -1
    } else if ((c === 0x7d || c === 0x5d) && --depth === base) return i
  }
  return -1
}

/**
 * The layout of the body's items array, or null (see the header). With `previous`, the layout of
 * the cluster's previous body, an object item is first taken to be the one that followed the
 * previous match there: when the bytes of that length hash to its fingerprint they are that item
 * (sha256), so it is neither scanned nor hashed again — a 1 %-churn re-POST is mostly hashed, not
 * read byte by byte. Its depth is known too: only reused at the same array depth and limit.
 */
export function itemsLayout(body: Uint8Array, maxDepth: number, previous?: LayoutMemory): ItemsLayout | null {
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  if (bytes.indexOf(NUL_ESCAPE) >= 0) return null
  const n = bytes.length
  let depth = 0
  // The key whose value comes next at depth 1, and at depth 2 inside a `resources` object.
  let key: 'items' | 'resources' | 'other' | null = null
  let seenItems = 0
  let seenResources = 0
  let inResources = false
  let resourcesItems = 0
  // The array: its depth once open (0: not met yet, -1: closed), and the element being read.
  let arrayDepth = 0
  let layout: ItemsLayout | null = null
  let start = -1
  let last = -1
  let afterComma = false
  let top = false
  // Reusing `previous`: the index of the item guessed next, and the fingerprint of the item read
  // when it was recognised.
  let reuse = false
  let next = 0
  let known: { fingerprint: string; end: number } | undefined
  let indexOf: Map<string, number> | undefined
  /** Records an element; false when it is too short to be a snapshot item. */
  const push = (from: number, to: number): boolean => {
    if (to - from < MIN_ITEM_BYTES) return false
    layout!.starts.push(from)
    layout!.ends.push(to)
    if (reuse) {
      // The recognised bytes are the whole element only if nothing but whitespace followed them.
      const recognised = known?.end === to
      const fp = recognised ? known!.fingerprint : fingerprintOf(bytes, from, to)
      layout!.fingerprints.push(fp)
      if (!recognised) {
        // Not the item guessed: the next guess is the one after this item there, if it was there.
        indexOf ??= new Map(previous!.fingerprints.map((f, k) => [f, k]))
        const at = indexOf.get(fp)
        next = at === undefined ? next + 1 : at + 1
      }
    }
    known = undefined
    return true
  }
  for (let i = 0; i < n; i++) {
    const c = bytes[i]!
    if (isSpace(c)) continue
    if (depth === 0) {
      // One object, and nothing after it.
      if (top || c !== 0x7b) return null
      top = true
    }
    if (c === QUOTE) {
      const j = closingQuote(bytes, i)
      if (j < 0) return null
      // A key of the top-level object, or of the `resources` object?
      if (depth === 1 || (depth === 2 && inResources)) {
        let k = j + 1
        while (k < n && isSpace(bytes[k]!)) k++
        if (bytes[k] === COLON) {
          const name = equals(bytes, i + 1, j, ITEMS) ? 'items' : equals(bytes, i + 1, j, RESOURCES) ? 'resources' : 'other'
          if (name === 'other' && bytes.subarray(i + 1, j).includes(BACKSLASH)) return null
          key = name
          if (depth === 1 && name === 'items') seenItems++
          if (depth === 1 && name === 'resources') seenResources++
          if (depth === 2 && name === 'items') resourcesItems++
          i = k
          continue
        }
      }
      // An item that is a string: not an object, so no snapshot item (and no cheap one to hash).
      if (arrayDepth > 0 && depth === arrayDepth) return null
      last = j
      i = j
      key = null
      continue
    }
    if (c === 0x7b || c === 0x5b) {
      if (arrayDepth > 0 && depth === arrayDepth) {
        // An item: recognised, or skipped to its end (its brackets are checked by its own parse, or were).
        if (start >= 0 || c !== 0x7b) return null
        let end = -1
        const guess = reuse ? previous!.lengths[next] : undefined
        if (guess !== undefined && i + guess <= n && bytes[i + guess - 1] === 0x7d) {
          const fp = fingerprintOf(bytes, i, i + guess)
          if (fp === previous!.fingerprints[next]) {
            end = i + guess - 1
            known = { fingerprint: fp, end: end + 1 }
            next++
          }
        }
        if (end < 0) end = closingBracket(bytes, i, depth + 1, maxDepth)
        if (end < 0) return null
        start = i
        afterComma = false
        last = i = end
        key = null
        continue
      }
      if (c === 0x5b && arrayDepth === 0) {
        const here =
          depth === 1 && key === 'resources'
            ? 'resources'
            : depth === 1 && key === 'items'
              ? 'items'
              : depth === 2 && inResources && key === 'items'
                ? 'resources.items'
                : null
        if (here !== null) {
          if (layout !== null) return null
          layout = { path: here, depth: depth + 1, open: i, close: -1, starts: [], ends: [], fingerprints: [] }
          arrayDepth = depth + 1
          reuse = previous !== undefined && previous.path === here && previous.depth === arrayDepth && previous.maxDepth === maxDepth
        }
      }
      if (c === 0x7b && depth === 1 && key === 'resources') inResources = true
      if (++depth > maxDepth) return null
      key = null
      continue
    }
    if (c === 0x7d || c === 0x5d) {
      if (arrayDepth > 0 && depth === arrayDepth) {
        // `[1,]` is not JSON, though the emptied array would parse.
        if (c !== 0x5d || afterComma) return null
        if (start >= 0 && !push(start, last + 1)) return null
        layout!.close = i
        arrayDepth = -1
        start = -1
      }
      if (--depth < 0) return null
      if (depth === 1 && inResources) inResources = false
      last = i
      key = null
      continue
    }
    if (c === COMMA && arrayDepth > 0 && depth === arrayDepth) {
      if (start < 0 || !push(start, last + 1)) return null
      start = -1
      afterComma = true
      continue
    }
    if (c !== COMMA && c !== COLON) {
      // A number or a literal: as for a string.
      if (arrayDepth > 0 && depth === arrayDepth) return null
      last = i
      key = null
    }
  }
  if (depth !== 0 || layout === null || layout.close < 0) return null
  if (seenResources > 1 || seenItems > 1 || resourcesItems > 1) return null
  // Where rawItems looks: `resources` when there is one, else `items`.
  if (seenResources === 1 ? layout.path === 'items' : layout.path !== 'items') return null
  return layout
}

/**
 * The document with its items array emptied, parsed as the body would be (secureJsonParse, the
 * same refusals), with `values` put in the array; null when the rest of the body does not parse
 * (the caller then parses the whole body, whose error names the offset).
 */
export function withItems(body: Uint8Array, layout: ItemsLayout, values: unknown[]): Record<string, unknown> | null {
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  const skeleton = Buffer.concat([bytes.subarray(0, layout.open + 1), bytes.subarray(layout.close)]).toString('utf8')
  let doc: unknown
  try {
    doc = secureJsonParse(skeleton)
  } catch {
    return null
  }
  const root = doc as Record<string, unknown>
  const resources = root.resources as Record<string, unknown> | unknown[]
  const array = (layout.path === 'items' ? root.items : layout.path === 'resources' ? resources : (resources as Record<string, unknown>).items) as unknown[]
  for (const v of values) array.push(v)
  return root
}

/** One element's value, parsed as the body would be; undefined when it does not parse. */
export function parseItem(body: Uint8Array, from: number, to: number): unknown {
  try {
    return secureJsonParse(Buffer.from(body.buffer, body.byteOffset + from, to - from).toString('utf8'))
  } catch {
    return undefined
  }
}
