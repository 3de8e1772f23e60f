/**
 * A JSON body's items found as byte ranges without parsing it (src/services/json-items.ts): what
 * it reports must be what JSON.parse reads, and it must never report a body JSON.parse refuses
 * (the ingest worker would then accept one) — checked on the layouts snapshots come in and on a
 * few thousand random edits of one.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { itemsLayout, layoutFingerprints, memoryOf, parseItem, withItems, type ItemsLayout, type LayoutMemory } from '../../src/services/json-items.js'
import { smallEnvelope } from '../api/helpers.js'

/** The document as the worker reads it from the layout (every item parsed from its bytes), or null. */
function readByLayout(text: string, maxDepth = 64): unknown {
  const bytes = Buffer.from(text)
  const layout = itemsLayout(bytes, maxDepth)
  if (!layout) return null
  const values = layout.starts.map((s, i) => parseItem(bytes, s, layout.ends[i]!))
  if (values.some((v) => v === undefined)) return null
  return withItems(bytes, layout, values)
}

/**
 * `count` texts, each `text` with one character deleted, inserted or replaced (by one of JSON's
 * structural characters, a quote, a backslash, a space or a letter): a fixed linear congruential
 * sequence from `seed`, so the same edits every run.
 */
function* randomEdits(text: string, seed: number, count: number): Generator<string> {
  const alphabet = '{}[],:"\\ 0a-'
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n)
  for (let k = 0; k < count; k++) {
    const at = rand(text.length)
    const op = rand(3)
    const ch = alphabet[rand(alphabet.length)]!
    yield op === 0 ? text.slice(0, at) + text.slice(at + 1) : op === 1 ? text.slice(0, at) + ch + text.slice(at) : text.slice(0, at) + ch + text.slice(at + 1)
  }
}

const envelope = smallEnvelope()
const kubectlList = JSON.parse(readFileSync('test/fixtures/cluster/three-nodes.json', 'utf8')) as unknown

describe('itemsLayout', () => {
  it.each([
    ['an envelope, compact', JSON.stringify(envelope)],
    ['an envelope, as kubectl indents', JSON.stringify(envelope, null, 4)],
    ['an envelope with CRLF and tabs', JSON.stringify(envelope, null, '\t').replace(/\n/g, '\r\n')],
    ['a kubectl List', JSON.stringify(kubectlList, null, 4)],
    ['resources as a bare array', JSON.stringify({ proxy: envelope.proxy, resources: envelope.resources.items })],
    ['an empty items array', '{"kind":"List","items":[ ]}'],
    ['the smallest items', '{"items":[{"kind":"A"},{"kind":"B"}]}'],
    ['strings with escaped quotes and brackets', JSON.stringify({ items: [{ kind: 'A', note: 'say "hi" ] }, [ \\' }, { kind: 'B' }] })],
    ['multi-byte UTF-8', JSON.stringify({ items: [{ kind: 'Ωμέγα', x: '🚀' }, { kind: 'B' }] })],
  ])('finds every item of %s, as JSON.parse reads them', (_name, text) => {
    const layout = itemsLayout(Buffer.from(text), 64)
    expect(layout).not.toBeNull()
    expect(readByLayout(text)).toEqual(JSON.parse(text))
  })

  it.each([
    ['a top-level array', JSON.stringify([envelope])],
    ['items that are numbers', '{"items":[1,2]}'],
    ['an item that is a string', '{"items":[{"kind":"A"}, "two"]}'],
    ['an item that is null', '{"items":[{"kind":"A"},null]}'],
    ['an item that is an array', '{"items":[[3,{"a":[]}]]}'],
    ['an item too short to be one', '{"items":[{"kind":"A"},{}]}'],
    ['an escaped key', '{"\\u0069tems":[{"kind":"A"}],"items":[{"kind":"B"}]}'],
    ['an escaped key elsewhere', '{"items":[{"kind":"A"}],"k\\u0069nd":"List"}'],
    ['items twice', '{"items":[{"kind":"A"}],"items":[{"kind":"B"}]}'],
    ['resources beside items', '{"items":[{"kind":"A"}],"resources":{"items":[]}}'],
    ['resources twice', '{"resources":[],"resources":[{"kind":"B"}]}'],
    ['items inside resources twice', '{"resources":{"items":[],"items":[{"kind":"B"}]}}'],
    ['resources without items', '{"resources":{"kind":"List"},"items":[{"kind":"B"}]}'],
    ['no items', '{"kind":"Service"}'],
    ['a trailing comma', '{"items":[{"kind":"A"},]}'],
    ['an empty element', '{"items":[{"kind":"A"},,{"kind":"B"}]}'],
    ['a leading comma', '{"items":[,{"kind":"A"}]}'],
    ['text after the object', '{"items":[]} x'],
    ['two objects', '{"items":[]}{"items":[]}'],
    ['an escaped NUL', '{"items":[{"kind":"a\\u0000"}]}'],
    ['a byte-order mark', '\ufeff{"items":[]}'],
    ['an unterminated string', '{"items":[{"kind":"A}]}'],
    ['a brace closing the array', '{"items":[{"kind":"A"}}}'],
    ['unbalanced', '{"items":[{"kind":"A"}]'],
  ])('reports no layout for %s', (_name, text) => {
    expect(itemsLayout(Buffer.from(text), 64)).toBeNull()
  })

  it('reports no layout deeper than the limit, counting inside items', () => {
    const deep = `{"items":[{"a":${'['.repeat(10)}${']'.repeat(10)}}]}`
    expect(itemsLayout(Buffer.from(deep), 13)).not.toBeNull()
    expect(itemsLayout(Buffer.from(deep), 12)).toBeNull()
  })

  it('never reads a body JSON.parse refuses, and reads every other one as JSON.parse does (3,000 random edits)', () => {
    let refused = 0
    let read = 0
    for (const edited of randomEdits(JSON.stringify(envelope, null, 2), 12345, 3000)) {
      let want: unknown
      try {
        want = JSON.parse(edited)
      } catch {
        want = undefined
      }
      const got = readByLayout(edited)
      if (want === undefined) {
        refused++
        expect(got, edited).toBeNull()
      } else if (got !== null) {
        read++
        expect(got, edited).toEqual(want)
      }
    }
    // Both kinds of edit were exercised.
    expect(refused).toBeGreaterThan(500)
    expect(read).toBeGreaterThan(500)
  })

  describe('recognising the items of the previous body', () => {
    const many = {
      ...envelope,
      resources: { ...envelope.resources, items: Array.from({ length: 12 }, (_, i) => ({ ...envelope.resources.items[i % 2], n: i })) },
    }
    const before = JSON.stringify(many, null, 2)
    /** The layout with every fingerprint computed, as the ingest uses it. */
    const laidOut = (text: string, maxDepth = 64, previous?: LayoutMemory): ItemsLayout | null => {
      const bytes = Buffer.from(text)
      const layout = itemsLayout(bytes, maxDepth, previous)
      if (layout) layoutFingerprints(bytes, layout)
      return layout
    }
    const memory = memoryOf(laidOut(before)!, 64)
    const same = (text: string, maxDepth = 64) => expect(laidOut(text, maxDepth, memory), text).toEqual(laidOut(text, maxDepth))

    it('gives the layout a fresh scan gives, items changed, added, removed or moved', () => {
      const items = many.resources.items as Array<Record<string, unknown>>
      const variants = [
        items,
        items.map((it, i) => (i === 4 ? { ...it, n: 'changed' } : it)),
        [...items.slice(0, 3), { kind: 'Inserted' }, ...items.slice(3)],
        [...items.slice(0, 3), ...items.slice(5)],
        [...items].reverse(),
        [],
      ]
      for (const v of variants) {
        same(JSON.stringify({ ...many, resources: { ...many.resources, items: v } }, null, 2))
        same(JSON.stringify({ ...many, resources: { ...many.resources, items: v } }))
      }
      // The same items elsewhere (a bare List: another depth) or under another limit.
      same(JSON.stringify({ kind: 'List', items }, null, 2))
      same(before, 20)
    })

    it('never takes text after a recognised item for part of it', () => {
      // Right after the first item's closing brace, where the item recognised ends.
      const end = itemsLayout(Buffer.from(before), 64)!.ends[0]!
      const edited = before.slice(0, end) + ' x' + before.slice(end)
      same(edited)
      expect(readByLayout(edited)).toBeNull()
    })

    it('gives the layout a fresh scan gives after 3,000 random edits', () => {
      let found = 0
      for (const edited of randomEdits(before, 777, 3000)) {
        const fresh = laidOut(edited)
        if (fresh) found++
        expect(laidOut(edited, 64, memory), edited).toEqual(fresh)
      }
      expect(found).toBeGreaterThan(1000)
    })
  })
})
