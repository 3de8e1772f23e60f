/**
 * Unified diff of two plans' restore scripts, after the normalisation upstream compares in
 * (iptables/normalise.ts normaliseRestore: parse, sort chains and the sortable chains' rules,
 * re-serialise — proxier_test.go assertIPTablesRulesEqual), so Go-map-order noise never shows.
 * Uses the `diff` package (jsdiff).
 */
import { createTwoFilesPatch, diffArrays } from 'diff'
import { normaliseRestore } from '../iptables/normalise.js'
import { renderRestore } from '../iptables/render.js'
import type { FamilyPlan, TableName } from '../types.js'

export interface UnifiedDiffOptions {
  /** File labels in the `---`/`+++` header (default `a`/`b`). */
  fromLabel?: string
  toLabel?: string
  /** Lines of context (default 3). */
  context?: number
  /** default 'all' */
  table?: TableName | 'all'
}

export function unifiedDiff(a: FamilyPlan, b: FamilyPlan, opts: UnifiedDiffOptions = {}): string {
  const render = (p: FamilyPlan) => normaliseRestore(renderRestore(p, { table: opts.table ?? 'all' }))
  const x = render(a)
  const y = render(b)
  return sectionDiff(x, y, opts) ?? trimCommonAndDiff(x, y, opts)
}

// ---------------------------------------------------------------------------------------------
// Section diff: O(lines) for normalised scripts
// ---------------------------------------------------------------------------------------------

type Op = ' ' | '-' | '+'
interface Section {
  key: string
  lines: string[]
}

/**
 * A normalised script is a sequence of sections with unique keys — `*table`, one per chain
 * declaration, one per chain's rules (a chain's rules are contiguous), one per `-X`, `COMMIT` —
 * and both scripts order shared sections the same way (same sort). So the line diff is: sections
 * only in one script are removed/added whole, shared sections are compared (jsdiff only inside a
 * changed chain). Linear, where a plain line diff of two 150k-line scripts takes seconds.
 */
function sections(text: string): Section[] {
  const out: Section[] = []
  let table = ''
  for (const line of text.split('\n')) {
    if (line === '') continue
    let key: string
    if (line.startsWith('*')) {
      table = line.slice(1)
      key = `T ${table}`
    } else if (line.startsWith(':')) key = `D ${table} ${line.slice(1, line.indexOf(' '))}`
    else if (line.startsWith('-A ')) key = `R ${table} ${line.slice(3, line.indexOf(' ', 3) >>> 0)}`
    else if (line.startsWith('-X ')) key = `X ${table} ${line.slice(3)}`
    else key = `C ${table}`
    const last = out[out.length - 1]
    if (last && last.key === key && key.startsWith('R ')) last.lines.push(line)
    else out.push({ key, lines: [line] })
  }
  return out
}

function sectionOps(x: Section[], y: Section[]): Array<[Op, string]> | undefined {
  const inX = new Set(x.map((s) => s.key))
  const inY = new Set(y.map((s) => s.key))
  if (inX.size !== x.length || inY.size !== y.length) return undefined // keys not unique: not normalised
  const ops: Array<[Op, string]> = []
  let i = 0
  let j = 0
  while (i < x.length || j < y.length) {
    const sx = x[i]
    const sy = y[j]
    if (sx && !inY.has(sx.key)) {
      for (const l of sx.lines) ops.push(['-', l])
      i++
    } else if (sy && !inX.has(sy.key)) {
      for (const l of sy.lines) ops.push(['+', l])
      j++
    } else {
      if (!sx || !sy || sx.key !== sy.key) return undefined // shared sections in another order
      if (sx.lines.length === sy.lines.length && sx.lines.every((l, k) => l === sy.lines[k])) {
        for (const l of sx.lines) ops.push([' ', l])
      } else {
        for (const part of diffArrays(sx.lines, sy.lines)) {
          const op: Op = part.added ? '+' : part.removed ? '-' : ' '
          for (const l of part.value) ops.push([op, l])
        }
      }
      i++
      j++
    }
  }
  return ops
}

/** Unified-format hunks from a full edit script (same output shape as jsdiff's createTwoFilesPatch). */
function formatHunks(ops: Array<[Op, string]>, opts: UnifiedDiffOptions): string {
  const ctx = opts.context ?? 3
  let out = `===================================================================\n--- ${opts.fromLabel ?? 'a'}\n+++ ${opts.toLabel ?? 'b'}\n`
  // old/new line number before each op
  const oldAt: number[] = []
  const newAt: number[] = []
  let o = 0
  let n = 0
  for (const [op] of ops) {
    oldAt.push(o)
    newAt.push(n)
    if (op !== '+') o++
    if (op !== '-') n++
  }
  let k = 0
  while (k < ops.length) {
    while (k < ops.length && ops[k]![0] === ' ') k++
    if (k >= ops.length) break
    const start = Math.max(0, k - ctx)
    let end = k // exclusive end of the hunk's last change
    let m = k
    while (m < ops.length) {
      if (ops[m]![0] !== ' ') {
        end = m + 1
        m++
      } else if (m - end < 2 * ctx) m++
      else break
    }
    const stop = Math.min(ops.length, end + ctx)
    let oldLines = 0
    let newLines = 0
    let body = ''
    for (let q = start; q < stop; q++) {
      const [op, line] = ops[q]!
      if (op !== '+') oldLines++
      if (op !== '-') newLines++
      body += `${op}${line}\n`
    }
    const oldStart = oldLines ? oldAt[start]! + 1 : oldAt[start]!
    const newStart = newLines ? newAt[start]! + 1 : newAt[start]!
    out += `@@ -${oldStart},${oldLines} +${newStart},${newLines} @@\n${body}`
    k = stop
  }
  return out
}

function sectionDiff(x: string, y: string, opts: UnifiedDiffOptions): string | undefined {
  const ops = sectionOps(sections(x), sections(y))
  return ops && formatHunks(ops, opts)
}

/**
 * jsdiff is O(N·D) over lines; two 10k-service scripts are ~150k lines each. Their common head
 * and tail are cut off first (kept only as context) so the diff runs over the changed middle.
 */
function trimCommonAndDiff(x: string, y: string, opts: UnifiedDiffOptions): string {
  const ctx = opts.context ?? 3
  const xs = x.split('\n')
  const ys = y.split('\n')
  let pre = 0
  while (pre < xs.length && pre < ys.length && xs[pre] === ys[pre]) pre++
  let suf = 0
  while (suf < xs.length - pre && suf < ys.length - pre && xs[xs.length - 1 - suf] === ys[ys.length - 1 - suf]) suf++
  const keepPre = Math.max(0, pre - ctx)
  const keepSuf = Math.max(0, suf - ctx)
  const mid = (l: string[]) => l.slice(keepPre, l.length - keepSuf).join('\n')
  const patch = createTwoFilesPatch(opts.fromLabel ?? 'a', opts.toLabel ?? 'b', mid(xs), mid(ys), undefined, undefined, { context: ctx })
  if (keepPre === 0) return patch
  // Shift hunk line numbers by the lines cut off the top.
  return patch.replace(/^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@/gm, (_m, a: string, al: string | undefined, b: string, bl: string | undefined) => {
    return `@@ -${Number(a) + keepPre}${al ?? ''} +${Number(b) + keepPre}${bl ?? ''} @@`
  })
}
