/**
 * Hand-made FamilyPlans for the analysis tests, built from restore text the way the planner
 * segments it (src/planner/types.ts): every chain and rule of a service goes to that service's
 * segment (found from kube-proxy's comments), the rest to `head`, and KUBE-FORWARD plus the
 * final KUBE-NODEPORTS jump to `tail`. Lets the analysis be tested on upstream's own texts
 * (the conformance expected.txt files, TestTracePacket's rules) independently of the planner.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { segmentLines, type Family, type FamilyPlan, type Protocol, type Segment } from '../../src/planner/types.js'
import { parseRule, ruleComment } from '../../src/planner/analysis/rule.js'
import { serviceFromComment } from '../../src/planner/analysis/drift.js'

export const CONFORMANCE = join(import.meta.dirname, '..', 'fixtures', 'conformance')

export function conformanceText(name: string): string {
  return readFileSync(join(CONFORMANCE, name, 'expected.txt'), 'utf8')
}

function newSegment(key: string, service?: string, protocol?: Protocol): Segment {
  return { key, ...(service ? { service, protocol } : {}), filterChains: '', filterRules: '', natChains: '', natRules: '' }
}

export function familyPlanFromRestore(text: string, family: Family = 'IPv4'): FamilyPlan {
  const head = newSegment('head')
  const tail = newSegment('tail')
  const services = new Map<string, Segment>()
  const seg = (svc: string | undefined, proto: Protocol = 'tcp'): Segment => {
    if (!svc) return head
    let s = services.get(svc)
    if (!s) services.set(svc, (s = newSegment(`${svc}/${proto}`, svc, proto)))
    return s
  }
  let table = ''
  const owner = new Map<string, string | undefined>() // chain -> service
  const chainDecl: Array<[string, string, string]> = []
  const rules: Array<[string, string]> = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (!line || line.startsWith('#') || line === 'COMMIT') continue
    if (line.startsWith('*')) table = line.slice(1)
    else if (line.startsWith(':')) chainDecl.push([table, line.slice(1, line.indexOf(' ')), line])
    else rules.push([table, line])
  }
  for (const [, line] of rules) {
    const r = parseRule(line, { family })
    const svc = serviceFromComment(ruleComment(r))
    if (svc && /^KUBE-(SVC|SVL|SEP|EXT|FW)-/.test(r.chain)) owner.set(r.chain, svc)
  }
  for (const [t, name, line] of chainDecl) {
    const s = owner.has(name) ? seg(owner.get(name)) : head
    if (t === 'nat') s.natChains += `${line}\n`
    else s.filterChains += `${line}\n`
  }
  for (const [t, line] of rules) {
    const r = parseRule(line, { family })
    let s: Segment
    if (r.chain === 'KUBE-FORWARD' || (ruleComment(r) ?? '').includes('must be the last rule')) s = tail
    else if (owner.has(r.chain)) s = seg(owner.get(r.chain))
    else s = seg(serviceFromComment(ruleComment(r)))
    if (t === 'nat') s.natRules += `${line}\n`
    else s.filterRules += `${line}\n`
  }
  const keys = [...services.keys()].sort()
  return { family, segments: [head, ...keys.map((k) => services.get(k)!), tail] }
}

/** A tiny model of iptables-restore, for pure tests of restore scripts (the kernel tests prove the real thing). */
export type TableState = Map<string, Map<string, string[]>>

export function applyRestore(state: TableState, text: string, noflush: boolean): TableState {
  const out: TableState = new Map([...state].map(([t, chains]) => [t, new Map([...chains].map(([c, r]) => [c, [...r]]))]))
  let cur: Map<string, string[]> | undefined
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (!line || line.startsWith('#') || line === 'COMMIT') continue
    if (line.startsWith('*')) {
      const name = line.slice(1)
      if (!noflush || !out.has(name)) out.set(name, new Map())
      cur = out.get(name)!
    } else if (line.startsWith(':')) cur!.set(line.slice(1, line.indexOf(' ')), [])
    else if (line.startsWith('-X ')) {
      const name = line.slice(3)
      for (const [c, rs] of cur!) if (rs.some((r) => r.endsWith(` -j ${name}`))) throw new Error(`-X ${name}: still referenced from ${c}`)
      cur!.delete(name)
    } else {
      const chain = line.split(' ')[1]!
      const rs = cur!.get(chain)
      if (!rs) throw new Error(`-A to missing chain ${chain}`)
      rs.push(line)
    }
  }
  return out
}

/** Chains with sorted keys, for equality assertions. */
export function stateObject(s: TableState): Record<string, Record<string, string[]>> {
  const o: Record<string, Record<string, string[]>> = {}
  for (const t of [...s.keys()].sort()) {
    o[t] = {}
    for (const c of [...s.get(t)!.keys()].sort()) o[t][c] = s.get(t)!.get(c)!
  }
  return o
}

const BUILTIN_CHAINS: Record<string, string[]> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
}

/**
 * What iptables-save prints after a plan is applied to an empty node: built-in chains first,
 * user chains sorted, rules grouped per chain in canonical form (real-iptables.md §2.2). The
 * kernel tests use the real thing; this is for pure tests of drift.
 */
export function fakeSave(plan: FamilyPlan, canonical: (rule: string) => string): string {
  const out: string[] = []
  for (const table of ['filter', 'nat'] as const) {
    const chains = new Map<string, string[]>()
    for (const s of plan.segments) for (const c of segmentLines(s, table === 'nat' ? 'natChains' : 'filterChains')) chains.set(c.slice(1, c.indexOf(' ')), [])
    for (const s of plan.segments)
      for (const r of segmentLines(s, table === 'nat' ? 'natRules' : 'filterRules')) chains.get(r.split(' ')[1]!)!.push(canonical(r))
    const user = [...chains.keys()].filter((c) => !BUILTIN_CHAINS[table]!.includes(c)).sort()
    out.push(`*${table}`, ...BUILTIN_CHAINS[table]!.map((c) => `:${c} ACCEPT [0:0]`), ...user.map((c) => `:${c} - [0:0]`))
    for (const c of [...BUILTIN_CHAINS[table]!, ...user]) out.push(...(chains.get(c) ?? []))
    out.push('COMMIT')
  }
  return out.join('\n') + '\n'
}
