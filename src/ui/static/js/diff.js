// A diff between two plans, coloured and grouped by Service. The diff API's JSON answer already
// groups each family's changes per service port (`families[].services[]`, each with its chains
// and rules per table); what no Service owns (KUBE-SERVICES's jump to KUBE-NODEPORTS, masquerade
// rules) is gathered from the family's tables under "Not tied to a Service". A server without
// `services[]` is grouped by the rules' `-m comment --comment "ns/name:port"`, as kube-proxy
// writes it.
import { el, fmt } from './api.js'

const TABLES = ['nat', 'filter']
const COMMENT = /--comment "?([^"\s]+\/[^"\s:]+(?::[^"\s]*)?)/

function lines(kind, items) {
  return items.map((text) => el('span', { class: kind === '+' ? 'add' : 'del', text: `${kind} ${text}\n` }))
}

/** One group's tables as coloured lines: chains added/removed, then each changed chain's rules. */
function tablesBlock(tables) {
  const out = []
  for (const t of TABLES) {
    const x = tables?.[t]
    if (!x) continue
    const body = [
      ...lines('+', (x.chainsAdded || []).map((c) => `chain ${c}`)),
      ...lines('-', (x.chainsRemoved || []).map((c) => `chain ${c}`)),
    ]
    for (const c of x.chainsChanged || []) {
      body.push(el('span', { class: 'hunk', text: `@@ ${c.chain}\n` }), ...lines('-', c.rulesRemoved || []), ...lines('+', c.rulesAdded || []))
    }
    if (body.length) out.push(el('h5', { text: `${t} table` }), el('pre', { class: 'diff' }, ...body))
  }
  return out
}

function serviceKey(rule) {
  return COMMENT.exec(rule)?.[1] ?? null
}

/** Rules of a family's tables no listed service owns (or, without services[], grouped by comment). */
function residual(f) {
  const owned = new Set()
  for (const s of f.services || []) {
    for (const t of TABLES) {
      const x = s.tables?.[t]
      for (const c of x?.chainsAdded || []) owned.add(`${t} +chain ${c}`)
      for (const c of x?.chainsRemoved || []) owned.add(`${t} -chain ${c}`)
      for (const c of x?.chainsChanged || []) {
        for (const r of c.rulesAdded || []) owned.add(`${t} + ${r}`)
        for (const r of c.rulesRemoved || []) owned.add(`${t} - ${r}`)
      }
    }
  }
  const groups = new Map()
  const group = (name) => {
    if (!groups.has(name)) groups.set(name, { service: name, change: 'changed', tables: {}, rulesAdded: 0, rulesRemoved: 0 })
    return groups.get(name)
  }
  const table = (g, t) => (g.tables[t] ??= { chainsAdded: [], chainsRemoved: [], chainsChanged: [] })
  const chain = (g, t, name) => {
    const tt = table(g, t)
    let c = tt.chainsChanged.find((x) => x.chain === name)
    if (!c) tt.chainsChanged.push((c = { chain: name, rulesAdded: [], rulesRemoved: [] }))
    return c
  }
  const byComment = !Array.isArray(f.services)
  {
    for (const t of TABLES) {
      const x = f.tables?.[t]
      if (!x) continue
      for (const c of x.chainsAdded || []) if (!owned.has(`${t} +chain ${c}`)) table(group(null), t).chainsAdded.push(c)
      for (const c of x.chainsRemoved || []) if (!owned.has(`${t} -chain ${c}`)) table(group(null), t).chainsRemoved.push(c)
      for (const c of x.chainsChanged || []) {
        for (const [sign, list, count] of [
          ['+', c.rulesAdded || [], 'rulesAdded'],
          ['-', c.rulesRemoved || [], 'rulesRemoved'],
        ]) {
          for (const r of list) {
            if (owned.has(`${t} ${sign} ${r}`)) continue
            const g = group(byComment ? serviceKey(r) : null)
            chain(g, t, c.chain)[count].push(r)
            g[count]++
          }
        }
      }
    }
  }
  return [...groups.values()]
}

function group(s, open) {
  const title = s.service ?? 'Not tied to a Service'
  return el(
    'details',
    { class: `svc svc-${s.change}`, 'data-service': s.key ?? s.service ?? '', open },
    el(
      'summary',
      {},
      el('span', { class: `badge badge-${s.change}`, text: s.service ? s.change : 'other' }),
      ` ${title}${s.protocol ? ` (${s.protocol})` : ''} `,
      el('span', { class: 'add', text: `+${fmt(s.rulesAdded)}` }),
      ' ',
      el('span', { class: 'del', text: `−${fmt(s.rulesRemoved)}` }),
    ),
    ...tablesBlock(s.tables),
  )
}

/** The whole answer: a summary line, one collapsible group per Service, the rest last. */
export function renderDiff(d) {
  const s = d.summary || {}
  const wrap = el('div', { class: 'diff-view', 'data-identical': String(Boolean(d.identical)) })
  const from = d.fromNode ? `v${d.from} ${d.fromNode}` : `v${d.from}`
  const to = d.toNode ? `v${d.to} ${d.toNode}` : `v${d.to}`
  wrap.append(
    el('p', {
      class: 'diff-summary',
      text: d.identical
        ? `${from} → ${to}: identical plans.`
        : `${from} → ${to}: services +${fmt(s.servicesAdded)} −${fmt(s.servicesRemoved)} ~${fmt(s.servicesChanged)}, ` +
          `chains +${fmt(s.chainsAdded)} −${fmt(s.chainsRemoved)} ~${fmt(s.chainsChanged)}, rules +${fmt(s.rulesAdded)} −${fmt(s.rulesRemoved)}`,
    }),
  )
  const families = d.families || []
  const count = families.reduce((n, f) => n + (f.services?.length ?? 0), 0)
  for (const f of families) {
    const groups = [...(f.services || []), ...residual(f)]
    if (families.length > 1) wrap.append(el('h4', { text: f.family }))
    wrap.append(...groups.map((x) => group(x, count <= 8)))
  }
  return wrap
}

/** A unified diff, each line coloured by its first character. */
export function renderUnified(text) {
  const pre = el('pre', { class: 'diff unified' })
  for (const line of text.split('\n')) {
    const cls = line.startsWith('+++') || line.startsWith('---') ? 'file' : line.startsWith('+') ? 'add' : line.startsWith('-') ? 'del' : line.startsWith('@@') ? 'hunk' : ''
    pre.append(el('span', { class: cls || undefined, text: `${line}\n` }))
  }
  return pre
}
