// natplan's small UI: clusters -> versions -> growth chart, a diff between two versions, restore
// script downloads. Vanilla ES module, no build step; everything comes from the REST API (/v1),
// with the API token (if the server has tokens) kept in sessionStorage and sent as a Bearer header.
// No inline scripts or styles, so the page runs under a strict Content-Security-Policy.

const $ = (sel) => document.querySelector(sel)

function token() {
  return sessionStorage.getItem('natplan-token') || ''
}

function headers() {
  const t = token()
  return t ? { authorization: `Bearer ${t}` } : {}
}

function setStatus(text, error = false) {
  const el = $('#status')
  el.textContent = text
  el.className = error ? 'error' : ''
}

async function api(path, opts = {}) {
  const res = await fetch(path, { ...opts, headers: { ...headers(), ...(opts.headers || {}) } })
  if (!res.ok) {
    let detail = `${res.status} ${res.statusText}`
    try {
      const p = await res.json()
      if (p.detail) detail = `${res.status}: ${p.detail}`
    } catch {
      // not problem+json
    }
    const err = new Error(detail)
    err.status = res.status
    throw err
  }
  return res
}

const enc = encodeURIComponent

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v
    else if (k === 'text') node.textContent = v
    else node.setAttribute(k, v)
  }
  for (const c of children) node.append(c)
  return node
}

function fmt(n) {
  return typeof n === 'number' ? n.toLocaleString('en-US') : '–'
}

function tableRules(counts, table) {
  let total = 0
  for (const fam of Object.values(counts.families || {})) total += fam?.[table]?.rules ?? 0
  return total
}

async function showClusters() {
  $('#clusters-view').hidden = false
  $('#cluster-view').hidden = true
  const body = $('#clusters tbody')
  body.replaceChildren()
  const page = await (await api('/v1/clusters?limit=500')).json()
  for (const c of page.items) {
    const link = el('a', { href: `#/clusters/${enc(c.name)}`, text: c.name })
    body.append(el('tr', { 'data-cluster': c.name }, el('td', {}, link), el('td', { class: 'num', text: fmt(c.latestVersion) }), el('td', { class: 'num', text: fmt(c.versions) }), el('td', { text: c.createdAt })))
  }
  setStatus(page.items.length ? `${page.items.length} cluster(s)` : 'No clusters yet: POST a snapshot to /v1/clusters/NAME/snapshots')
}

async function download(cluster, version) {
  const res = await api(`/v1/clusters/${enc(cluster)}/versions/${version}/restore-script`)
  const blob = await res.blob()
  const url = URL.createObjectURL(blob)
  const a = el('a', { href: url, download: `${cluster}-v${version}.rules` })
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

let chartUrl = null

async function showChart(cluster) {
  // <img src> cannot carry a Bearer token: fetch the SVG and show it from a blob URL.
  const res = await api(`/v1/clusters/${enc(cluster)}/growth.svg?metric=rules,chains,kubeServicesRules`)
  const blob = new Blob([await res.text()], { type: 'image/svg+xml' })
  if (chartUrl) URL.revokeObjectURL(chartUrl)
  chartUrl = URL.createObjectURL(blob)
  const img = $('#growth-chart')
  const loaded = new Promise((resolve) => img.addEventListener('load', resolve, { once: true }))
  img.src = chartUrl
  await loaded
  img.dataset.loaded = 'true'
  try {
    const p = await (await api(`/v1/clusters/${enc(cluster)}/growth/projection?metric=kubeServicesRules&threshold=10000`)).json()
    $('#projection').textContent = p.message
  } catch (e) {
    $('#projection').textContent = `projection unavailable (${e.message})`
  }
}

const versionsByNumber = new Map()

async function showCluster(cluster) {
  $('#clusters-view').hidden = true
  $('#cluster-view').hidden = false
  $('#cluster-title').textContent = cluster
  $('#diff-result').replaceChildren()
  const body = $('#versions tbody')
  body.replaceChildren()
  versionsByNumber.clear()
  const page = await (await api(`/v1/clusters/${enc(cluster)}/versions?limit=200`)).json()
  const from = $('#diff-from')
  const to = $('#diff-to')
  from.replaceChildren()
  to.replaceChildren()
  for (const v of page.items) {
    versionsByNumber.set(v.version, v)
    const button = el('button', { type: 'button', class: 'link', 'data-download': String(v.version), text: `v${v.version}.rules` })
    button.addEventListener('click', () => download(cluster, v.version).catch((e) => setStatus(e.message, true)))
    body.append(
      el(
        'tr',
        { 'data-version': String(v.version) },
        el('td', { class: 'num', text: String(v.version) }),
        el('td', { text: v.kind }),
        el('td', { text: v.createdAt }),
        el('td', { text: v.actor }),
        el('td', { class: 'num', text: fmt(v.counts.services) }),
        el('td', { class: 'num', text: fmt(v.counts.endpoints) }),
        el('td', { class: 'num', text: fmt(tableRules(v.counts, 'nat')) }),
        el('td', { class: 'num', text: fmt(tableRules(v.counts, 'filter')) }),
        el('td', {}, button),
      ),
    )
    from.append(el('option', { value: String(v.version), text: `v${v.version}` }))
    to.append(el('option', { value: String(v.version), text: `v${v.version}` }))
  }
  // Default comparison: the previous version against the newest.
  if (page.items.length > 1) from.value = String(page.items[1].version)
  setStatus(`${cluster}: ${page.items.length} version(s)`)
  await showChart(cluster)
}

function countsComparison(a, b) {
  const rows = [
    ['services', a.counts.services, b.counts.services],
    ['service ports', a.counts.servicePorts, b.counts.servicePorts],
    ['endpoints', a.counts.endpoints, b.counts.endpoints],
    ['nat rules', tableRules(a.counts, 'nat'), tableRules(b.counts, 'nat')],
    ['filter rules', tableRules(a.counts, 'filter'), tableRules(b.counts, 'filter')],
    ['script bytes', a.counts.scriptBytes, b.counts.scriptBytes],
  ]
  const table = el('table', { id: 'diff-counts' }, el('thead', {}, el('tr', {}, el('th', { text: '' }), el('th', { text: `v${a.version}` }), el('th', { text: `v${b.version}` }), el('th', { text: 'change' }))))
  const tbody = el('tbody')
  for (const [name, x, y] of rows) {
    const d = y - x
    tbody.append(el('tr', {}, el('td', { text: name }), el('td', { class: 'num', text: fmt(x) }), el('td', { class: 'num', text: fmt(y) }), el('td', { class: `num ${d > 0 ? 'delta-plus' : d < 0 ? 'delta-minus' : ''}`, text: d > 0 ? `+${fmt(d)}` : fmt(d) })))
  }
  table.append(tbody)
  return table
}

function diffSummary(d) {
  const s = d.summary || {}
  const keys = ['servicesAdded', 'servicesRemoved', 'servicesChanged', 'chainsAdded', 'chainsRemoved', 'chainsChanged', 'rulesAdded', 'rulesRemoved']
  const tbody = el('tbody')
  for (const k of keys) if (k in s) tbody.append(el('tr', {}, el('td', { text: k }), el('td', { class: 'num', text: fmt(s[k]) })))
  return el('table', { id: 'diff-summary' }, tbody)
}

async function compare(cluster) {
  const a = Number($('#diff-from').value)
  const b = Number($('#diff-to').value)
  const out = $('#diff-result')
  out.replaceChildren(el('p', { text: `v${a} → v${b}` }))
  const va = versionsByNumber.get(a)
  const vb = versionsByNumber.get(b)
  out.append(countsComparison(va, vb))
  try {
    const d = await (await api(`/v1/clusters/${enc(cluster)}/diff?from=${a}&to=${b}&format=json`)).json()
    out.append(el('h4', { text: 'Rule diff' }), diffSummary(d))
    const text = await (await api(`/v1/clusters/${enc(cluster)}/diff?from=${a}&to=${b}&format=unified`)).text()
    out.append(el('pre', { id: 'diff-unified', text: text.length > 200_000 ? text.slice(0, 200_000) + '\n… (truncated)' : text }))
  } catch (e) {
    // No diff endpoint on this server (or not allowed): the counts above are the comparison.
    out.append(el('p', { class: 'note', text: `rule diff unavailable: ${e.message}` }))
  }
  out.dataset.done = 'true'
}

async function route() {
  const m = /^#\/clusters\/([^/]+)$/.exec(location.hash)
  try {
    if (m) await showCluster(decodeURIComponent(m[1]))
    else await showClusters()
  } catch (e) {
    setStatus(e.status === 401 ? 'This server needs an API token (top right).' : e.message, true)
  }
}

function init() {
  $('#token').value = token()
  $('#token-form').addEventListener('submit', (ev) => {
    ev.preventDefault()
    sessionStorage.setItem('natplan-token', $('#token').value.trim())
    route()
  })
  $('#diff-form').addEventListener('submit', (ev) => {
    ev.preventDefault()
    const m = /^#\/clusters\/([^/]+)$/.exec(location.hash)
    if (m) compare(decodeURIComponent(m[1])).catch((e) => setStatus(e.message, true))
  })
  window.addEventListener('hashchange', route)
  route()
}

init()
