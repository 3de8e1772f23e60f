// What every page shares: the REST client (/v1, with the API token from sessionStorage as a
// Bearer header), DOM helpers, number and date formatting, downloads, the status line.

const TOKEN_KEY = 'natplan-token'

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || ''
}

export function saveToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value.trim())
}

function authHeaders() {
  const t = token()
  return t ? { authorization: `Bearer ${t}` } : {}
}

export class ApiError extends Error {
  constructor(status, message, problem) {
    super(message)
    this.status = status
    this.problem = problem
  }
}

/** fetch with the token; a non-2xx answer becomes an ApiError carrying problem+json's detail. */
export async function api(path, opts = {}) {
  const res = await fetch(path, { ...opts, headers: { ...authHeaders(), ...(opts.headers || {}) } })
  if (!res.ok) {
    let detail = `${res.status} ${res.statusText}`
    let problem = null
    try {
      problem = await res.json()
      if (problem.detail) detail = `${res.status}: ${problem.detail}`
    } catch {
      // not problem+json
    }
    throw new ApiError(res.status, detail, problem)
  }
  return res
}

export async function getJson(path) {
  return (await api(path)).json()
}

export async function postJson(path, body) {
  return (await api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json()
}

export const enc = encodeURIComponent

/** el('a', { href, text }, child...): attributes, `text`, `class`, and `on<event>` listeners. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'class') node.className = v
    else if (k === 'text') node.textContent = v
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v)
    else node.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) node.append(c)
  return node
}

export function fmt(n) {
  return typeof n === 'number' ? n.toLocaleString('en-US') : '–'
}

/** A timestamp as "2026-12-03 18:31 UTC": the same for every reader, sortable, unambiguous. */
export function when(iso) {
  if (!iso) return '–'
  const d = new Date(iso)
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`
}

export function table(headers, rows, attrs = {}) {
  return el(
    'table',
    attrs,
    el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', {}, ...rows),
  )
}

export function tableRules(counts, t) {
  let total = 0
  for (const fam of Object.values(counts.families || {})) total += fam?.[t]?.rules ?? 0
  return total
}

export function setStatus(text, error = false) {
  const s = document.querySelector('#status')
  s.textContent = text
  s.className = error ? 'error' : ''
}

/** Show an error inside a page's section (and on the status line). */
export function showError(where, e) {
  const msg = e.status === 401 ? 'This server needs an API token (top right).' : e.message
  where.replaceChildren(el('p', { class: 'error', role: 'alert', text: msg }))
  setStatus(msg, true)
}

/** Fetch with the token (a plain link cannot carry it) and hand the body to the browser as a file. */
export async function download(path, filename) {
  const blob = await (await api(path)).blob()
  const url = URL.createObjectURL(blob)
  const a = el('a', { href: url, download: filename })
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

export function cluPath(cluster) {
  return `/v1/clusters/${enc(cluster)}`
}
