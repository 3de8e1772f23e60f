/**
 * The layers of the source tree (README, "Source map"): api → services → (planner, store), one
 * way. Read from the import statements of every file under src/, so a change that reaches up a
 * layer, or gives the planner I/O, fails here with the file and the import that did it.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const SRC = fileURLToPath(new URL('../../src/', import.meta.url))

interface Import {
  file: string
  target: string
  typeOnly: boolean
}

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = join(dir, d.name)
    if (d.isDirectory()) return d.name === 'generated' || d.name === 'static' ? [] : files(p)
    return p.endsWith('.ts') ? [p] : []
  })
}

/** Every `import … from '…'` and `export … from '…'` of the file (static ones; natplan has no dynamic imports of its own code). */
function imports(file: string): Import[] {
  const text = readFileSync(file, 'utf8')
  const out: Import[] = []
  for (const m of text.matchAll(/^(import|export)\s+(type\s+)?([^'"]*?)\s*from\s+'([^']+)'/gms)) {
    const spec = m[4]!
    const typeOnly =
      m[2] !== undefined ||
      (/^\{[^}]*\}$/s.test(m[3]!.trim()) && m[3]!.split(',').every((n) => /^\s*\{?\s*type\s/.test(n) || n.trim() === '}' || n.trim() === ''))
    const target = spec.startsWith('.') ? relative(SRC, resolve(dirname(file), spec)).replace(/\.js$/, '.ts') : spec
    out.push({ file: relative(SRC, file), target, typeOnly })
  }
  return out
}

const all = files(SRC).flatMap(imports)
const layer = (path: string): string => path.split('/')[0]!
const from = (l: string) => all.filter((i) => layer(i.file) === l)
const show = (xs: Import[]) => xs.map((i) => `${i.file} → ${i.target}${i.typeOnly ? ' (type)' : ''}`)

describe('layers', () => {
  it('reads imports (the scan itself works)', () => {
    expect(all.length).toBeGreaterThan(200)
    expect(all.some((i) => i.file === 'services/ingest.ts' && i.target === 'store/versions.ts')).toBe(true)
  })

  it('the store imports nothing above it, and no planner code (types only)', () => {
    const bad = from('store').filter(
      (i) => ['services', 'api', 'plugins', 'ui', 'cli'].includes(layer(i.target)) || (layer(i.target) === 'planner' && !i.typeOnly),
    )
    expect(show(bad)).toEqual([])
  })

  it('the planner is pure: no store, services, api, database or I/O modules', () => {
    const io = /^(node:)?(fs|fs\/promises|net|http|https|child_process|dgram|dns|worker_threads)$|^pg$|^@prisma\//
    const bad = from('planner').filter((i) => ['store', 'services', 'api', 'plugins', 'db', 'ui', 'cli'].includes(layer(i.target)) || io.test(i.target))
    expect(show(bad)).toEqual([])
  })

  it('services do not reach up into the API or its plugins', () => {
    const bad = from('services').filter((i) => ['api', 'plugins', 'ui', 'cli'].includes(layer(i.target)))
    expect(show(bad)).toEqual([])
  })

  it('the API goes through the services, never to the store or the database directly', () => {
    const bad = from('api').filter((i) => ['store', 'db'].includes(layer(i.target)) && !i.typeOnly)
    expect(show(bad)).toEqual([])
  })

  it('the contract modules are types only (and the list of history event names), importing no implementation', () => {
    const contract = ['services/contract.ts', 'services/history-types.ts', 'services/growth-types.ts', 'services/inspect-types.ts', 'store/records.ts']
    const bad = all.filter((i) => contract.includes(i.file) && !i.typeOnly && !contract.includes(i.target) && !i.target.startsWith('node:'))
    expect(show(bad)).toEqual([])
  })
})
