/**
 * What a restore script natplan serves may hold: only the planner's own rules. Read back with the
 * project's own iptables-save reader (src/planner/analysis/save.ts) and rule parser, every table
 * is filter or nat, every chain a kube-proxy chain, every rule appended to a chain the script
 * declares, jumping to a declared chain or one of kube-proxy's targets, with at most one
 * comment and one target — and as many rules as the planner says it wrote.
 */
import { parseRule, parseSave } from '../../src/planner/analysis/index.js'

/** Targets kube-proxy's rules use besides its own chains. */
const TARGETS = new Set(['DNAT', 'MASQUERADE', 'ACCEPT', 'DROP', 'REJECT', 'RETURN', 'MARK'])

export interface RuleCounts {
  filter: number
  nat: number
}

/** The problems of `script` (none: it holds only the planner's rules). */
export function foreignLines(script: string, counts?: RuleCounts): string[] {
  const problems: string[] = []
  let dump
  try {
    dump = parseSave(script)
  } catch (err) {
    return [`does not parse: ${(err as Error).message}`]
  }
  for (const table of dump.tables) {
    if (table.name !== 'filter' && table.name !== 'nat') problems.push(`foreign table ${table.name}`)
    const declared = new Set(table.chains.map((c) => c.name))
    for (const c of table.chains) if (!c.name.startsWith('KUBE-')) problems.push(`foreign chain ${c.name} in ${table.name}`)
    for (const r of table.rules) {
      if (!r.chain.startsWith('KUBE-')) problems.push(`rule in foreign chain: ${r.text}`)
      const words = r.text.match(/(?:^| )(-j|--comment) /g) ?? []
      if (words.filter((w) => w.trim() === '-j').length > 1) problems.push(`two targets: ${r.text}`)
      if (words.filter((w) => w.trim() === '--comment').length > 1) problems.push(`two comments: ${r.text}`)
      try {
        const rule = parseRule(r.text)
        if (rule.target !== undefined && !declared.has(rule.target) && !TARGETS.has(rule.target)) problems.push(`foreign target ${rule.target}: ${r.text}`)
      } catch (err) {
        problems.push(`rule does not parse (${(err as Error).message}): ${r.text}`)
      }
    }
    if (counts && (table.name === 'filter' || table.name === 'nat') && table.rules.length !== counts[table.name]) {
      problems.push(`${table.name}: ${table.rules.length} rules, the planner counted ${counts[table.name]}`)
    }
  }
  return problems
}
