// #/clusters/NAME : the versions, the growth chart with its projection, a diff of two versions.
import { growthChart, legend } from '../chart.js'
import { renderDiff, renderUnified } from '../diff.js'
import { api, cluPath, el, enc, fmt, getJson, setStatus, showError, table, tableRules, when } from '../api.js'

let chartSeq = 0

async function drawChart(cluster, box, metric, threshold, kinds, metrics) {
  const seq = ++chartSeq
  box.removeAttribute('data-ready')
  const info = metrics.find((m) => m.name === metric) ?? { name: metric, unit: '', description: metric }
  const growth = await getJson(`${cluPath(cluster)}/growth?metric=${enc(metric)}`)
  let projection = null
  let note
  try {
    projection = await getJson(`${cluPath(cluster)}/growth/projection?metric=${enc(metric)}&threshold=${enc(threshold)}`)
    note = projection.message
  } catch (e) {
    note = `projection unavailable (${e.message})`
  }
  if (seq !== chartSeq) return
  box.replaceChildren(
    el('figure', {}, growthChart({ points: growth.points, kinds, metric: info, projection }), el('figcaption', { id: 'projection', text: note })),
    legend(),
  )
  box.dataset.ready = 'true'
  box.dataset.points = String(growth.points.length)
}

export async function showCluster(view, cluster) {
  const base = cluPath(cluster)
  view.append(
    el('nav', { 'aria-label': 'Breadcrumb', class: 'crumbs' }, el('a', { href: '#/', text: 'Clusters' }), ' / ', el('span', { text: cluster })),
    el('h1', { id: 'cluster-title', text: cluster }),
    el('p', {}, el('a', { href: `#/clusters/${enc(cluster)}/history`, text: 'History' }), ' · ', el('a', { href: '#/backups', text: 'Backups' })),
  )
  // Every version's kind marks the chart (growth points carry none): page through them all,
  // 500 at a time; the table and the diff form show the newest 200.
  const all = []
  for (let cursor = null, pages = 0; pages < 40; pages++) {
    const page = await getJson(`${base}/versions?limit=500${cursor ? `&cursor=${enc(cursor)}` : ''}`)
    all.push(...page.items)
    cursor = page.next
    if (!cursor) break
  }
  const versions = all.slice(0, 200)
  const kinds = new Map(all.map((v) => [v.version, v.kind]))

  // Growth chart.
  const metrics = (await getJson('/v1/growth/metrics').catch(() => ({ metrics: [] }))).metrics
  const chartBox = el('div', { id: 'growth' })
  const metricSel = el('select', { id: 'growth-metric' }, ...metrics.map((m) => el('option', { value: m.name, text: `${m.name} — ${m.description}` })))
  metricSel.value = metrics.some((m) => m.name === 'kubeServicesRules') ? 'kubeServicesRules' : (metrics[0]?.name ?? 'rules')
  const thresholdIn = el('input', { id: 'growth-threshold', type: 'number', min: '1', step: '1', value: '10000', required: true })
  const chartForm = el(
    'form',
    { id: 'growth-form', class: 'inline' },
    el('label', { for: 'growth-metric', text: 'Metric' }),
    metricSel,
    el('label', { for: 'growth-threshold', text: 'Threshold' }),
    thresholdIn,
    el('button', { type: 'submit', text: 'Draw' }),
  )
  chartForm.addEventListener('submit', (ev) => {
    ev.preventDefault()
    drawChart(cluster, chartBox, metricSel.value, thresholdIn.value, kinds, metrics).catch((e) => showError(chartBox, e))
  })
  view.append(el('section', { 'aria-labelledby': 'growth-h' }, el('h2', { id: 'growth-h', text: 'Growth' }), chartForm, chartBox))

  // Compare two versions.
  const opts = () => versions.map((v) => el('option', { value: String(v.version), text: `v${v.version} (${v.kind})` }))
  const from = el('select', { id: 'diff-from' }, ...opts())
  const to = el('select', { id: 'diff-to' }, ...opts())
  if (versions.length > 1) from.value = String(versions[1].version)
  const out = el('div', { id: 'diff-result', 'aria-live': 'polite' })
  const diffForm = el(
    'form',
    { id: 'diff-form', class: 'inline' },
    el('label', { for: 'diff-from', text: 'From' }),
    from,
    el('label', { for: 'diff-to', text: 'to' }),
    to,
    el('button', { type: 'submit', text: 'Compare' }),
  )
  diffForm.addEventListener('submit', (ev) => {
    ev.preventDefault()
    compare(base, Number(from.value), Number(to.value), out).catch((e) => showError(out, e))
  })
  view.append(el('section', { 'aria-labelledby': 'diff-h' }, el('h2', { id: 'diff-h', text: 'Compare two versions' }), diffForm, out))

  // Versions.
  const rows = versions.map((v) =>
    el(
      'tr',
      { 'data-version': String(v.version), 'data-kind': v.kind },
      el('th', { scope: 'row' }, el('a', { href: `#/clusters/${enc(cluster)}/versions/${v.version}`, text: `v${v.version}` })),
      el('td', {}, el('span', { class: `badge badge-${v.kind}`, text: v.kind }), v.sourceVersion ? ` of v${v.sourceVersion}` : ''),
      el('td', { text: when(v.createdAt) }),
      el('td', { text: v.actor }),
      el('td', { class: 'num', text: fmt(v.counts.services) }),
      el('td', { class: 'num', text: fmt(v.counts.endpoints) }),
      el('td', { class: 'num', text: fmt(v.counts.nodes?.count) }),
      el('td', { class: 'num', text: fmt(tableRules(v.counts, 'nat')) }),
      el('td', { class: 'num', text: fmt(tableRules(v.counts, 'filter')) }),
    ),
  )
  view.append(
    el(
      'section',
      { 'aria-labelledby': 'versions-h' },
      el('h2', { id: 'versions-h', text: 'Versions' }),
      table(['Version', 'Kind', 'Created', 'Actor', 'Services', 'Endpoints', 'Nodes', 'nat rules', 'filter rules'], rows, { id: 'versions' }),
    ),
  )
  setStatus(`${cluster}: ${all.length} version(s)${all.length > versions.length ? `, the newest ${versions.length} listed` : ''}`)
  await drawChart(cluster, chartBox, metricSel.value, thresholdIn.value, kinds, metrics).catch((e) => showError(chartBox, e))
}

async function compare(base, a, b, out) {
  out.removeAttribute('data-done')
  out.replaceChildren(el('p', { text: `Comparing v${a} → v${b}…` }))
  const d = await getJson(`${base}/diff?from=${a}&to=${b}&format=json`)
  const text = await (await api(`${base}/diff?from=${a}&to=${b}&format=unified`)).text()
  const unified = text.length > 200_000 ? text.slice(0, 200_000) + '\n… (truncated)' : text
  out.replaceChildren(renderDiff(d), el('details', { class: 'unified-box' }, el('summary', { text: 'Unified diff of the restore scripts' }), renderUnified(unified)))
  out.dataset.done = 'true'
}
