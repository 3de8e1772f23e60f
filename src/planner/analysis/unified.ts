/**
 * Unified diff of two plans' restore scripts, after the normalisation upstream compares in
 * (iptables/normalise.ts normaliseRestore: parse, sort chains and the sortable chains' rules,
 * re-serialise — proxier_test.go assertIPTablesRulesEqual), so Go-map-order noise never shows.
 * Uses the `diff` package (jsdiff).
 */
import { createTwoFilesPatch } from 'diff'
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
  return trimCommonAndDiff(render(a), render(b), opts)
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
