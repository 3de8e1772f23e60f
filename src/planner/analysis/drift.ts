/**
 * Drift: what a node's live `iptables-save` holds that the plan does not (stale), what the plan
 * holds that the node lacks (missing), and chains whose rules differ (changed).
 *
 * Both sides are compared in canonical form (rule.ts), so kube-proxy's restore text and the
 * kernel's printed text of the same rule are equal. Scope, like kube-proxy's own cleanup
 * (pkg/proxy/iptables/proxier.go, stale-chain deletion): the plan's chains, plus any chain with
 * a service-chain prefix (KUBE-SVC/SVL/SEP/FW/EXT) in nat or filter. Built-in chains (whose
 * kube-proxy jumps are installed outside the restore script, reference §15) and foreign chains
 * (Calico, Docker, kubelet's KUBE-KUBELET-CANARY…) are ignored and listed as such.
 */
import { diffArrays } from 'diff'
import type { FamilyPlan, TableName } from '../types.js'
import { isServiceChain, tablesOfPlan, TABLES, type PlanTable } from './model.js'
import { canonicalRule, parseRule, ruleComment } from './rule.js'
import { canonicalSavedRule, getTable, parseSave, SaveParseError, type SavedTable } from './save.js'
import { tokenize } from './tokens.js'
import { inferSettings, neutraliser, settingMismatches, type InferredSettings, type SettingMismatch, type SettingsRule } from './settings.js'

export interface DriftRule {
  /** As printed by the node (stale) or as written in the plan (missing). */
  rule: string
  service?: string
}

export interface ChainDrift {
  chain: string
  service?: string
  staleRules: DriftRule[]
  missingRules: DriftRule[]
  /**
   * Planned rules the node's readable lines lack, in a chain where some of the node's lines could
   * not be read: they may be among those, so they are not counted as missing.
   */
  unverifiedRules?: DriftRule[]
}

export interface WholeChainDrift {
  chain: string
  service?: string
  rules: number
}

export interface TableDrift {
  staleChains: WholeChainDrift[]
  missingChains: WholeChainDrift[]
  changedChains: ChainDrift[]
}

export interface ServiceDrift {
  service: string
  staleChains: string[]
  missingChains: string[]
  changedChains: string[]
  staleRules: number
  missingRules: number
}

/**
 * "Which kube-proxy wrote this?" (./settings.ts): the settings the node's rules show and those
 * natplan's plan shows (what it was told), and each one they disagree on. The rules a mismatched
 * setting shapes are compared without it, so a wrong setting is one finding, not every chain.
 */
export interface DriftSettings {
  told: InferredSettings
  node: InferredSettings
  mismatches: SettingMismatch[]
}

export interface DriftOptions {
  /** The snapshot's load-balancer ingress IPs with `ipMode: Proxy` (LoadBalancerIPMode shows on them). */
  proxyIngressIPs?: readonly string[]
}

export interface DriftReport {
  family: FamilyPlan['family']
  inSync: boolean
  summary: {
    staleChains: number
    missingChains: number
    changedChains: number
    staleRules: number
    missingRules: number
    unreadableLines: number
    settingsMismatches: number
  }
  settings: DriftSettings
  tables: Record<TableName, TableDrift>
  /** Grouped by servicePortName; rules and chains that belong to no service are under `(node)`. */
  services: ServiceDrift[]
  /** Chains on the node outside kube-proxy's scope (built-in and foreign), not compared. */
  ignoredChains: Array<{ table: string; chain: string }>
  /**
   * Lines of the dump that could not be read (redacted addresses, lines cut short, edits), with
   * their line numbers (1-based): skipped, and the rest compared. `inSync` is false while any.
   */
  unreadable: Array<{ line: number; text: string; detail: string }>
}

const BUILTIN = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'])
const NO_SERVICE = '(node)'

/**
 * The servicePortName a kube-proxy comment names: `ns/svc:p80`, `"ns/svc:p80 cluster IP"`,
 * `"ns/svc:p80 -> 10.0.0.1:80"`, `"masquerade traffic for ns/svc:p80 external destinations"`,
 * `"other traffic to ns/svc:p80 will be dropped by …"` (comment templates of proxier.go).
 */
export function serviceFromComment(comment: string | undefined): string | undefined {
  if (!comment) return undefined
  const first = comment.split(' ', 1)[0]!
  if (first.includes('/')) return first
  const m = /\b(?:for|to) (\S+\/\S+)/.exec(comment)
  return m?.[1]
}

function commentService(text: string, family: FamilyPlan['family']): string | undefined {
  try {
    return serviceFromComment(ruleComment(parseRule(text, { family })))
  } catch {
    return undefined
  }
}

/** The match extensions kube-proxy's rules and a node's own chains use; another is a cut-short or edited word. */
const KNOWN_MODULES = new Set([
  'comment',
  'tcp',
  'udp',
  'sctp',
  'mark',
  'addrtype',
  'conntrack',
  'state',
  'statistic',
  'recent',
  'nfacct',
  'multiport',
  'set',
  'physdev',
  'limit',
  'icmp',
  'icmp6',
  'owner',
  'socket',
  'pkttype',
  'iprange',
  'mac',
  'connmark',
  'rpfilter',
  'length',
  'hashlimit',
  'string',
  'u32',
  'bpf',
  'cgroup',
  'devgroup',
  'dscp',
  'esp',
  'ah',
  'policy',
  'rt',
  'frag',
  'hbh',
  'ipv6header',
  'realm',
  'tos',
  'ttl',
  'hl',
  'time',
  'connlimit',
  'connbytes',
  'helper',
  'cluster',
  'cpu',
  'dccp',
  'ecn',
  'quota',
  'rateest',
])
const FULL_ADDRESS = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]*)(\/\d{1,3})?$/
const ENDPOINT = /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\])(:\d{1,5}(-\d{1,5})?)?$/

/**
 * Why a line of the node's dump that the rule parser accepts cannot be what it seems (redacted
 * addresses, a line cut short in a word), or null: such a line is listed as unreadable rather
 * than compared.
 */
const TARGETS = new Set([
  'ACCEPT',
  'DROP',
  'REJECT',
  'RETURN',
  'MARK',
  'MASQUERADE',
  'DNAT',
  'SNAT',
  'LOG',
  'CONNMARK',
  'NOTRACK',
  'CT',
  'TPROXY',
  'REDIRECT',
  'NFLOG',
  'TCPMSS',
  'CHECKSUM',
  'CLASSIFY',
  'TRACE',
  'SET',
  'AUDIT',
  'NETMAP',
  'TEE',
  'DSCP',
  'TOS',
  'TTL',
  'HL',
  'NFQUEUE',
  'QUEUE',
])

function unreadableReason(text: string, declared: ReadonlySet<string>): string | null {
  let tokens: string[]
  try {
    tokens = tokenize(text)
  } catch (err) {
    return (err as Error).message
  }
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!
    const v = tokens[i + 1]
    if ((t === '-s' || t === '-d' || t === '--source' || t === '--destination') && v !== undefined && !FULL_ADDRESS.test(v))
      return `${t} ${v} is not an address (redacted, or cut short?)`
    if (t === '--to-destination' && v !== undefined && !ENDPOINT.test(v)) return `--to-destination ${v} is not an address and port (redacted, or cut short?)`
    if ((t === '-m' || t === '--match') && v !== undefined && !KNOWN_MODULES.has(v)) return `-m ${v} is not a match extension (the line cut short, or edited?)`
    if ((t === '-j' || t === '--jump' || t === '-g' || t === '--goto') && v !== undefined && !TARGETS.has(v) && !declared.has(v))
      return `${t} ${v}: no such target or chain in the dump (the line cut short, or edited?)`
  }
  return null
}

interface Side {
  canonical: string[]
  raw: string[]
  services: Array<string | undefined>
}

// Plans are immutable: their canonical rule texts are kept while the plan object lives, so
// repeated drift checks of one (cached) version only parse the node's side.
const canonicalCache = new WeakMap<FamilyPlan, { tables: Record<TableName, PlanTable>; canonical: Map<string, string> }>()

/** The node's readable rules of nat and filter, canonical, for ./settings.ts. */
function nodeSettingsRules(dump: ReturnType<typeof parseSave>, family: FamilyPlan['family']): SettingsRule[] {
  const out: SettingsRule[] = []
  for (const t of TABLES) {
    const tbl = getTable(dump, t)
    const declared = new Set((tbl?.chains ?? []).map((c) => c.name))
    for (const r of tbl?.rules ?? []) {
      if (unreadableReason(r.text, declared) !== null) continue
      try {
        out.push({ table: t, chain: r.chain, canonical: canonicalSavedRule(r, family), line: r.line + 1 })
      } catch (err) {
        if (!(err instanceof SaveParseError)) throw err
      }
    }
  }
  return out
}

export function drift(plan: FamilyPlan, saveText: string, opts: DriftOptions = {}): DriftReport {
  const dump = parseSave(saveText, { lenient: true })
  const unreadable = (dump.unreadable ?? []).map((u) => ({ line: u.line + 1, text: u.text, detail: u.detail }))
  let cached = canonicalCache.get(plan)
  if (!cached) canonicalCache.set(plan, (cached = { tables: tablesOfPlan(plan), canonical: new Map() }))
  const planTables = cached.tables
  const canonicalOfPlan = (r: string) => {
    let c = cached.canonical.get(r)
    if (c === undefined) cached.canonical.set(r, (c = canonicalRule(r, { family: plan.family })))
    return c
  }
  const planRules: SettingsRule[] = []
  for (const t of TABLES)
    for (const [name, pc] of planTables[t].chains) for (const r of pc.rules) planRules.push({ table: t, chain: name, canonical: canonicalOfPlan(r) })
  const told = inferSettings(planRules, plan.family, opts.proxyIngressIPs)
  const seen = inferSettings(nodeSettingsRules(dump, plan.family), plan.family, opts.proxyIngressIPs)
  const mismatches = settingMismatches(told, seen)
  const neutral = neutraliser(mismatches, told, seen, opts.proxyIngressIPs ?? [])
  const report: DriftReport = {
    family: plan.family,
    inSync: true,
    summary: { staleChains: 0, missingChains: 0, changedChains: 0, staleRules: 0, missingRules: 0, unreadableLines: 0, settingsMismatches: mismatches.length },
    settings: { told, node: seen, mismatches },
    tables: { filter: emptyTable(), nat: emptyTable() },
    services: [],
    ignoredChains: [],
    unreadable,
  }
  for (const t of TABLES) {
    report.tables[t] = driftTable(plan, planTables[t], getTable(dump, t), report.ignoredChains, canonicalOfPlan, unreadable, neutral)
  }
  unreadable.sort((a, b) => a.line - b.line)
  for (const tbl of dump.tables) {
    if (TABLES.includes(tbl.name as TableName)) continue
    for (const c of tbl.chains) if (!BUILTIN.has(c.name)) report.ignoredChains.push({ table: tbl.name, chain: c.name })
  }
  summarise(report)
  return report
}

const emptyTable = (): TableDrift => ({ staleChains: [], missingChains: [], changedChains: [] })

function driftTable(
  plan: FamilyPlan,
  planTable: PlanTable,
  node: SavedTable | undefined,
  ignored: DriftReport['ignoredChains'],
  canonicalOfPlan: (rule: string) => string,
  unreadable: DriftReport['unreadable'],
  neutral: ReturnType<typeof neutraliser>,
): TableDrift {
  const out = emptyTable()
  const family = plan.family
  const chainService = (name: string) => {
    const c = planTable.chains.get(name)
    return c && c.segment >= 0 ? plan.segments[c.segment]!.service : undefined
  }
  const nodeRules = new Map<string, SavedTable['rules']>()
  for (const r of node?.rules ?? []) {
    let l = nodeRules.get(r.chain)
    if (!l) nodeRules.set(r.chain, (l = []))
    l.push(r)
  }
  const nodeChains = new Set<string>()
  const declaredOnNode = new Set((node?.chains ?? []).map((c) => c.name))
  for (const c of node?.chains ?? []) {
    if (planTable.chains.has(c.name)) nodeChains.add(c.name)
    else if (isServiceChain(c.name)) {
      const rules = nodeRules.get(c.name) ?? []
      const service = rules.map((r) => commentService(r.text, family)).find((s) => s)
      out.staleChains.push({ chain: c.name, ...(service ? { service } : {}), rules: rules.length })
    } else if (!BUILTIN.has(c.name)) ignored.push({ table: planTable.name, chain: c.name })
  }
  for (const [name, pc] of planTable.chains) {
    const service = chainService(name)
    if (neutral?.skipChain(planTable.name, name)) continue
    if (!nodeChains.has(name)) {
      out.missingChains.push({ chain: name, ...(service ? { service } : {}), rules: pc.rules.length })
      continue
    }
    const planSide: Side = { raw: pc.rules, canonical: pc.rules.map(canonicalOfPlan), services: [] }
    if (neutral) neutralise(planSide, (c) => neutral.rule(planTable.name, name, c))
    const nodeSide: Side = { raw: [], canonical: [], services: [] }
    let unread = 0
    for (const r of nodeRules.get(name) ?? []) {
      const why = unreadableReason(r.text, declaredOnNode)
      if (why !== null) {
        unreadable.push({ line: r.line + 1, text: r.text.slice(0, 200), detail: why })
        unread++
        continue
      }
      try {
        nodeSide.canonical.push(canonicalSavedRule(r, family))
        nodeSide.raw.push(r.text)
      } catch (err) {
        if (!(err instanceof SaveParseError)) throw err
        unreadable.push({ line: r.line + 1, text: r.text.slice(0, 200), detail: err.issues[0]?.detail.replace(/^line \d+: /, '') ?? err.message })
        unread++
      }
    }
    if (neutral) neutralise(nodeSide, (c) => neutral.rule(planTable.name, name, c))
    const d = compareChain(planSide, nodeSide, service, family)
    // Some of the node's lines are unreadable: a planned rule not found may be one of them.
    if (unread > 0 && d.missingRules.length > 0) {
      out.changedChains.push({ chain: name, ...(service ? { service } : {}), staleRules: d.staleRules, missingRules: [], unverifiedRules: d.missingRules })
    } else if (d.staleRules.length || d.missingRules.length) out.changedChains.push({ chain: name, ...(service ? { service } : {}), ...d })
  }
  return out
}

/** The side with what mismatched settings shape taken out (rules kept in order, raw text kept). */
function neutralise(side: Side, f: (canonical: string) => string | null): void {
  const raw: string[] = []
  const canonical: string[] = []
  side.canonical.forEach((c, i) => {
    const n = f(c)
    if (n === null) return
    canonical.push(n)
    raw.push(side.raw[i]!)
  })
  side.raw = raw
  side.canonical = canonical
}

function compareChain(plan: Side, node: Side, chainService: string | undefined, family: FamilyPlan['family']): Pick<ChainDrift, 'staleRules' | 'missingRules'> {
  const staleRules: DriftRule[] = []
  const missingRules: DriftRule[] = []
  if (plan.canonical.length === node.canonical.length && plan.canonical.every((r, i) => r === node.canonical[i])) {
    return { staleRules, missingRules }
  }
  let pi = 0
  let ni = 0
  const withService = (rule: string): DriftRule => {
    const service = chainService ?? commentService(rule, family)
    return service ? { rule, service } : { rule }
  }
  for (const part of diffArrays(plan.canonical, node.canonical)) {
    const n = part.count ?? part.value.length
    if (part.added) {
      for (let k = 0; k < n; k++) staleRules.push(withService(node.raw[ni + k]!))
      ni += n
    } else if (part.removed) {
      for (let k = 0; k < n; k++) missingRules.push(withService(plan.raw[pi + k]!))
      pi += n
    } else {
      pi += n
      ni += n
    }
  }
  return { staleRules, missingRules }
}

function summarise(report: DriftReport): void {
  const by = new Map<string, ServiceDrift>()
  const get = (s: string | undefined) => {
    const key = s ?? NO_SERVICE
    let v = by.get(key)
    if (!v) by.set(key, (v = { service: key, staleChains: [], missingChains: [], changedChains: [], staleRules: 0, missingRules: 0 }))
    return v
  }
  const s = report.summary
  for (const t of TABLES) {
    const td = report.tables[t]
    for (const c of td.staleChains) {
      get(c.service).staleChains.push(c.chain)
      s.staleChains++
    }
    for (const c of td.missingChains) {
      get(c.service).missingChains.push(c.chain)
      s.missingChains++
    }
    for (const c of td.changedChains) {
      s.changedChains++
      const touched = new Set<ServiceDrift>()
      for (const r of c.staleRules) {
        const g = get(r.service ?? c.service)
        g.staleRules++
        touched.add(g)
        s.staleRules++
      }
      for (const r of c.missingRules) {
        const g = get(r.service ?? c.service)
        g.missingRules++
        touched.add(g)
        s.missingRules++
      }
      for (const g of touched) if (!g.changedChains.includes(c.chain)) g.changedChains.push(c.chain)
    }
  }
  report.services = [...by.values()].sort((x, y) => (x.service < y.service ? -1 : x.service > y.service ? 1 : 0))
  s.unreadableLines = report.unreadable.length
  report.inSync = s.staleChains + s.missingChains + s.changedChains + s.unreadableLines + s.settingsMismatches === 0
}
