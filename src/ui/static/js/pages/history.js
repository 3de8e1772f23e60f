// #/clusters/NAME/history : what happened to a cluster, newest first — ingests, duplicates,
// rollbacks, backups, imports, prunes — filtered by type, a page at a time.
import { cluPath, el, enc, getJson, setStatus, table, when } from '../api.js'

const TYPES = ['snapshot.ingested', 'snapshot.duplicate', 'rollback', 'backup.created', 'backup.imported', 'versions.pruned']

function versionLink(cluster, n) {
  return n === null || n === undefined ? '–' : el('a', { href: `#/clusters/${enc(cluster)}/versions/${n}`, text: `v${n}` })
}

function range(e) {
  if (e.fromVersion === null && e.toVersion === null) return '–'
  return e.fromVersion === e.toVersion ? `v${e.fromVersion}` : `v${e.fromVersion}–v${e.toVersion}`
}

export async function showHistory(view, cluster) {
  view.append(
    el('nav', { 'aria-label': 'Breadcrumb', class: 'crumbs' }, el('a', { href: '#/', text: 'Clusters' }), ' / ', el('a', { href: `#/clusters/${enc(cluster)}`, text: cluster }), ' / ', el('span', { text: 'history' })),
    el('h1', { text: `${cluster}: history` }),
  )
  const type = el('select', { id: 'history-type' }, el('option', { value: '', text: 'all events' }), ...TYPES.map((t) => el('option', { value: t, text: t })))
  const form = el('form', { id: 'history-form', class: 'inline' }, el('label', { for: 'history-type', text: 'Type' }), type, el('button', { type: 'submit', text: 'Filter' }))
  const out = el('div', { id: 'history-result' })
  const more = el('button', { type: 'button', id: 'history-more', hidden: true, text: 'Older events' })
  let next = null
  const load = async (append) => {
    const q = new URLSearchParams({ limit: '50' })
    if (type.value) q.set('type', type.value)
    if (append && next) q.set('cursor', next)
    const page = await getJson(`${cluPath(cluster)}/history?${q}`)
    next = page.next
    more.hidden = !next
    const rows = page.items.map((e) =>
      el(
        'tr',
        { 'data-event': e.id, 'data-type': e.type },
        el('td', { text: when(e.createdAt) }),
        el('td', {}, el('span', { class: `badge ev-${e.type.replace('.', '-')}`, text: e.type })),
        el('td', {}, versionLink(cluster, e.version)),
        el('td', { text: range(e) }),
        el('td', { text: e.actor }),
        el('td', { text: e.reason ?? '' }),
        el('td', {}, e.backupId ? el('code', { text: e.backupId }) : ''),
      ),
    )
    const existing = out.querySelector('tbody')
    if (append && existing) existing.append(...rows)
    else out.replaceChildren(table(['When', 'Event', 'Version', 'Range', 'Actor', 'Reason', 'Backup'], rows, { id: 'history' }))
    setStatus(`${out.querySelectorAll('tbody tr').length} event(s)`)
  }
  form.addEventListener('submit', (ev) => {
    ev.preventDefault()
    load(false).catch((e) => setStatus(e.message, true))
  })
  more.addEventListener('click', () => load(true).catch((e) => setStatus(e.message, true)))
  view.append(form, out, more)
  await load(false)
}
