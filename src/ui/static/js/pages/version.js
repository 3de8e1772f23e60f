// #/clusters/NAME/versions/N : one version — its restore script, its nodes and their variants,
// a node-to-node diff, a packet trace drawn chain by chain, drift of a node's iptables-save
// dump (pasted or uploaded), the cleanup report, and a rollback to this version.
import { renderDiff } from '../diff.js'
import { api, cluPath, download, el, enc, fmt, getJson, postJson, setStatus, showError, table, tableRules, when } from '../api.js'

function section(id, title, ...children) {
  return el('section', { id, 'aria-labelledby': `${id}-h` }, el('h2', { id: `${id}-h`, text: title }), ...children)
}

function field(id, label, input) {
  input.id = id
  return el('div', { class: 'field' }, el('label', { for: id, text: label }), input)
}

/**
 * A node <select>: a version that plans several nodes and has no default (proxy.nodeName) needs
 * one named, so its first node is preselected; otherwise the empty value means the default node.
 */
function nodeSelect(nodes) {
  const sel = el('select')
  if (nodes.defaultNode !== null || nodes.items.length === 0) sel.append(el('option', { value: '', text: nodes.defaultNode ? `default node (${nodes.defaultNode})` : 'the version' }))
  for (const n of nodes.items) sel.append(el('option', { value: n.name, text: `${n.name} (variant ${n.variant})` }))
  return sel
}

function nodePath(base, node) {
  return node ? `${base}/nodes/${enc(node)}` : base
}

export async function showVersion(view, cluster, version) {
  const cbase = cluPath(cluster)
  const base = `${cbase}/versions/${version}`
  const v = await getJson(base)
  const nodes = await getJson(`${base}/nodes`).catch(() => ({ defaultNode: null, variants: 0, items: [] }))
  view.append(
    el(
      'nav',
      { 'aria-label': 'Breadcrumb', class: 'crumbs' },
      el('a', { href: '#/', text: 'Clusters' }),
      ' / ',
      el('a', { href: `#/clusters/${enc(cluster)}`, text: cluster }),
      ' / ',
      el('span', { text: `v${version}` }),
    ),
    el('h1', { id: 'version-title', text: `${cluster} v${version}` }),
  )

  // Summary, downloads, rollback.
  // A version that plans several nodes and names no default has no one restore script: each
  // node's is under Nodes.
  const perNodeOnly = nodes.defaultNode === null && nodes.items.length > 1
  const dl = perNodeOnly
    ? el('span', { id: 'download-per-node', text: 'Restore scripts: one per node, under Nodes.' })
    : el('button', { type: 'button', id: 'download-script', text: `Download v${version} restore script` })
  if (!perNodeOnly) dl.addEventListener('click', () => download(`${base}/restore-script`, `${cluster}-v${version}.rules`).catch((e) => setStatus(e.message, true)))
  const facts = [
    ['Kind', v.kind + (v.sourceVersion ? ` of v${v.sourceVersion}` : '')],
    ['Created', when(v.createdAt)],
    ['Actor', v.actor],
    ['Reason', v.reason ?? '–'],
    ['Services', fmt(v.counts.services)],
    ['Service ports', fmt(v.counts.servicePorts)],
    ['Endpoints', fmt(v.counts.endpoints)],
    ['nat rules', fmt(tableRules(v.counts, 'nat'))],
    ['filter rules', fmt(tableRules(v.counts, 'filter'))],
    ['Script bytes', fmt(v.counts.scriptBytes)],
  ]
  const reason = el('input', { type: 'text', required: true, maxlength: '1000', placeholder: 'why' })
  const rollback = el('form', { id: 'rollback-form', class: 'inline' }, field('rollback-reason', `Roll back to v${version}, reason`, reason), el('button', { type: 'submit', text: 'Roll back' }))
  rollback.addEventListener('submit', (ev) => {
    ev.preventDefault()
    postJson(`${cbase}/rollbacks`, { toVersion: version, reason: reason.value })
      .then((r) => {
        const created = r.version?.version ?? r.version
        setStatus(`rolled back: v${created} has v${version}'s rules`)
        location.hash = `#/clusters/${enc(cluster)}/versions/${created}`
      })
      .catch((e) => setStatus(e.message, true))
  })
  view.append(
    section(
      'summary',
      'Summary',
      el('dl', { class: 'facts' }, ...facts.flatMap(([k, x]) => [el('dt', { text: k }), el('dd', { text: x })])),
      el('p', {}, dl),
      ...(v.warnings?.length ? [el('ul', { class: 'warnings' }, ...v.warnings.map((w) => el('li', { text: `${w.code ?? ''} ${w.detail ?? w.message ?? JSON.stringify(w)}` })))] : []),
      rollback,
    ),
  )

  view.append(nodesSection(cluster, version, base, nodes))
  view.append(traceSection(base, nodes))
  view.append(driftSection(base, nodes))
  const cleanup = cleanupSection(base, nodes)
  view.append(cleanup.node)
  setStatus(`${cluster} v${version}: ${nodes.items.length} node(s), ${nodes.variants} variant(s)`)
  await cleanup.load()
}

function nodesSection(cluster, version, base, nodes) {
  const rows = nodes.items.map((n) => {
    const b = el('button', { type: 'button', class: 'link', 'data-download-node': n.name, text: `${n.name}.rules` })
    b.addEventListener('click', () => download(`${base}/nodes/${enc(n.name)}/restore-script`, `${cluster}-v${version}-${n.name}.rules`).catch((e) => setStatus(e.message, true)))
    return el(
      'tr',
      { 'data-node': n.name, 'data-variant': String(n.variant) },
      el('th', { scope: 'row', text: n.name }),
      el('td', {}, el('span', { class: `badge variant-${n.variant % 6}`, text: `variant ${n.variant}` })),
      el('td', {}, el('code', { title: n.planSha256, text: n.planSha256.slice(0, 12) })),
      el('td', { class: 'num', text: fmt(tableRules(n.counts, 'nat')) }),
      el('td', { class: 'num', text: fmt(tableRules(n.counts, 'filter')) }),
      el('td', { class: 'num', text: fmt(n.counts.scriptBytes) }),
      el('td', {}, b),
    )
  })
  const note = nodes.items.length
    ? `${nodes.items.length} node(s) in ${nodes.variants} variant(s) (nodes of one variant get identical rules)` + (nodes.defaultNode ? `; default node ${nodes.defaultNode}` : '')
    : 'This version plans no separate nodes.'
  const children = [el('p', { id: 'nodes-note', text: note })]
  if (nodes.items.length) children.push(table(['Node', 'Variant', 'Plan sha256', 'nat rules', 'filter rules', 'Script bytes', 'Restore script'], rows, { id: 'nodes' }))
  if (nodes.items.length > 1) {
    const a = nodeSelect({ ...nodes, defaultNode: null })
    const b = nodeSelect({ ...nodes, defaultNode: null })
    b.selectedIndex = 1
    const out = el('div', { id: 'node-diff-result', 'aria-live': 'polite' })
    const form = el('form', { id: 'node-diff-form', class: 'inline' }, field('node-diff-from', 'From node', a), field('node-diff-to', 'to node', b), el('button', { type: 'submit', text: 'Compare nodes' }))
    form.addEventListener('submit', (ev) => {
      ev.preventDefault()
      out.removeAttribute('data-done')
      const [from, to] = [a.value, b.value]
      const v = base.split('/').pop()
      const cbase = base.replace(/\/versions\/\d+$/, '')
      getJson(`${cbase}/diff?from=${v}&to=${v}&fromNode=${enc(from)}&toNode=${enc(to)}&format=json`)
        .then((d) => {
          out.replaceChildren(renderDiff(d))
          out.dataset.done = 'true'
        })
        .catch((e) => showError(out, e))
    })
    children.push(el('h3', { text: 'Node-to-node diff' }), form, out)
  }
  return section('nodes-section', 'Nodes', ...children)
}

/** The trace's matched rules, chain by chain in evaluation order, then where the packet ends. */
function drawTrace(r) {
  const hops = []
  for (const m of r.rulesMatched) {
    const lastHop = hops[hops.length - 1]
    if (lastHop && lastHop.table === m.table && lastHop.chain === m.chain) lastHop.rules.push(m.rule)
    else hops.push({ table: m.table, chain: m.chain, rules: [m.rule] })
  }
  const ol = el('ol', { class: 'trace-path', id: 'trace-path' })
  hops.forEach((h, i) =>
    ol.append(
      el(
        'li',
        { class: `hop table-${h.table}`, 'data-chain': h.chain },
        el('p', { class: 'hop-head' }, el('span', { class: 'hop-n', text: String(i + 1) }), el('span', { class: 'badge', text: h.table }), ' ', el('strong', { text: h.chain })),
        el('ul', {}, ...h.rules.map((x) => el('li', {}, el('code', { text: x })))),
      ),
    ),
  )
  const end = el(
    'li',
    { class: `hop end verdict-${r.verdict}`, id: 'trace-end' },
    el('p', { class: 'hop-head' }, el('span', { class: `badge verdict verdict-${r.verdict}`, text: r.verdict }), r.masqueraded ? ' masqueraded (SNAT)' : ' not masqueraded'),
  )
  if (r.endpoints.length) {
    end.append(el('ul', { class: 'endpoints' }, ...r.endpoints.map((e) => el('li', { 'data-endpoint': e.endpoint }, el('code', { text: e.endpoint }), ` ${(e.probability * 100).toFixed(1)} %`))))
  }
  ol.append(end)
  return el(
    'div',
    {},
    el('p', { id: 'trace-summary', text: `${r.packet.protocol} ${r.packet.source} → ${r.packet.destination}:${r.packet.port} (${r.family}, node addresses ${r.nodeAddresses.join(', ') || '–'}): ${r.output}` }),
    ol,
  )
}

function traceSection(base, nodes) {
  const node = nodeSelect(nodes)
  const source = el('input', { type: 'text', required: true, value: '10.244.0.10', autocomplete: 'off' })
  const dest = el('input', { type: 'text', required: true, placeholder: 'a cluster IP, external IP, LB IP or node IP', autocomplete: 'off' })
  const port = el('input', { type: 'number', min: '1', max: '65535', required: true, value: '80' })
  const proto = el('select', {}, ...['tcp', 'udp', 'sctp'].map((p) => el('option', { value: p, text: p })))
  const out = el('div', { id: 'trace-result', 'aria-live': 'polite' })
  const form = el(
    'form',
    { id: 'trace-form', class: 'grid-form' },
    ...(nodes.items.length ? [field('trace-node', 'Node', node)] : []),
    field('trace-source', 'Source IP', source),
    field('trace-destination', 'Destination IP', dest),
    field('trace-port', 'Port', port),
    field('trace-protocol', 'Protocol', proto),
    el('button', { type: 'submit', text: 'Trace' }),
  )
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    out.removeAttribute('data-done')
    postJson(`${nodePath(base, node.value)}/trace`, { source: source.value.trim(), destination: dest.value.trim(), port: Number(port.value), protocol: proto.value })
      .then((r) => out.replaceChildren(drawTrace(r)))
      .catch((e) => showError(out, e))
      .finally(() => (out.dataset.done = 'true'))
  })
  return section('trace', 'Trace a new connection', form, out)
}

function drawDrift(r) {
  const s = r.summary
  const wrap = el('div', { 'data-in-sync': String(r.inSync) })
  wrap.append(
    el(
      'p',
      { id: 'drift-verdict' },
      el('span', { class: `badge ${r.inSync ? 'badge-added' : 'badge-removed'}`, text: r.inSync ? 'in sync' : 'drift' }),
      ` ${r.family}: ${fmt(s.changedChains)} changed, ${fmt(s.staleChains)} stale and ${fmt(s.missingChains)} missing chains; ` +
        `${fmt(s.staleRules)} stale and ${fmt(s.missingRules)} missing rules; ${fmt(s.unreadableLines)} unreadable lines; ${fmt(s.settingsMismatches)} settings mismatches`,
    ),
  )
  const pre = el('pre', { class: 'diff', id: 'drift-lines' })
  for (const t of ['nat', 'filter']) {
    const x = r.tables[t]
    for (const c of x.staleChains) pre.append(el('span', { class: 'del', text: `- ${t} chain ${c.chain} (${c.rules} rules on the node, not planned)${c.service ? ` ${c.service}` : ''}\n` }))
    for (const c of x.missingChains) pre.append(el('span', { class: 'add', text: `+ ${t} chain ${c.chain} (${c.rules} planned rules missing)${c.service ? ` ${c.service}` : ''}\n` }))
    for (const c of x.changedChains) {
      pre.append(el('span', { class: 'hunk', text: `@@ ${t} ${c.chain}${c.service ? ` (${c.service})` : ''}\n` }))
      for (const x2 of c.staleRules) pre.append(el('span', { class: 'del', text: `- ${x2.rule}\n` }))
      for (const x2 of c.missingRules) pre.append(el('span', { class: 'add', text: `+ ${x2.rule}\n` }))
      for (const x2 of c.unverifiedRules || []) pre.append(el('span', { text: `? ${x2.rule}\n` }))
    }
  }
  if (pre.childNodes.length) wrap.append(el('p', { class: 'note', text: '− on the node but not planned (stale), + planned but not on the node (missing).' }), pre)
  if (r.settings?.mismatches?.length) {
    wrap.append(
      el('h3', { text: 'Settings the node shows otherwise' }),
      table(
        ['Setting', 'natplan was told', 'the node shows', 'Fix'],
        r.settings.mismatches.map((m) => el('tr', {}, el('td', { text: m.setting }), el('td', { text: m.told }), el('td', { text: m.node }), el('td', { text: m.fix }))),
      ),
    )
  }
  if (r.unreadable?.length) wrap.append(el('h3', { text: 'Unreadable lines' }), el('ul', {}, ...r.unreadable.map((u) => el('li', { text: `line ${u.line}: ${u.detail}` }))))
  return wrap
}

function driftSection(base, nodes) {
  const node = nodeSelect(nodes)
  const family = el('select', {}, el('option', { value: '', text: 'from the dump' }), el('option', { value: 'IPv4', text: 'IPv4' }), el('option', { value: 'IPv6', text: 'IPv6' }))
  const dump = el('textarea', { rows: '8', spellcheck: 'false', placeholder: '# paste iptables-save output here, or choose a file below' })
  const file = el('input', { type: 'file', accept: '.txt,.rules,.dump,text/plain' })
  file.addEventListener('change', () => {
    const f = file.files?.[0]
    if (f) f.text().then((t) => (dump.value = t))
  })
  const out = el('div', { id: 'drift-result', 'aria-live': 'polite' })
  const form = el(
    'form',
    { id: 'drift-form', class: 'grid-form' },
    ...(nodes.items.length ? [field('drift-node', 'Node', node)] : []),
    field('drift-family', 'Family', family),
    field('drift-file', 'Upload a dump', file),
    el('div', { class: 'field wide' }, el('label', { for: 'drift-dump', text: "The node's iptables-save output" }), Object.assign(dump, { id: 'drift-dump' })),
    el('button', { type: 'submit', text: 'Check drift' }),
  )
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault()
    out.removeAttribute('data-done')
    try {
      const q = family.value ? `?family=${family.value}` : ''
      const r = await (await api(`${nodePath(base, node.value)}/drift${q}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: dump.value })).json()
      out.replaceChildren(drawDrift(r))
    } catch (e) {
      showError(out, e)
    }
    out.dataset.done = 'true'
  })
  return section('drift', 'Drift of a node', form, out)
}

function cleanupSection(base, nodes) {
  const node = nodeSelect(nodes)
  const out = el('div', { id: 'cleanup-result', 'aria-live': 'polite' })
  const load = async () => {
    out.removeAttribute('data-done')
    try {
      const r = await getJson(`${nodePath(base, node.value)}/cleanup`)
      const summary = el('ul', { class: 'summary', id: 'cleanup-summary' }, ...Object.entries(r.summary).map(([k, n]) => el('li', { 'data-kind': k }, el('strong', { text: fmt(n) }), ` ${k}`)))
      const rows = r.items.map((i) =>
        el(
          'tr',
          { 'data-service': i.service, 'data-kind': i.kind },
          el('td', {}, el('span', { class: 'badge', text: i.kind })),
          el('td', { text: `${i.service}${i.protocol ? ` (${i.protocol})` : ''}` }),
          el('td', { text: i.family }),
          el('td', { text: i.detail }),
          el('td', { text: i.endpoints ? `${i.endpoints.ready}/${i.endpoints.total} ready, ${i.endpoints.terminating} terminating` : '–' }),
          el('td', {}, el('pre', { class: 'rules', text: i.rules.join('\n') })),
        ),
      )
      out.replaceChildren(
        summary,
        r.items.length ? table(['Finding', 'Service', 'Family', 'Detail', 'Endpoints', 'Rules'], rows, { id: 'cleanup-items' }) : el('p', { text: 'Nothing to clean up: every Service has endpoints the rules can reach.' }),
      )
    } catch (e) {
      showError(out, e)
    }
    out.dataset.done = 'true'
  }
  const form = el('form', { id: 'cleanup-form', class: 'inline' }, ...(nodes.items.length ? [field('cleanup-node', 'Node', node)] : []), el('button', { type: 'submit', text: 'Show cleanup report' }))
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    load()
  })
  return { node: section('cleanup', 'Cleanup report', el('p', { class: 'note', text: 'Services whose rules only drop or reject: no endpoints, only terminating ones, no local ones, firewall drops.' }), form, out), load }
}
