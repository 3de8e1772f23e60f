// #/ : every cluster with its latest version.
import { el, enc, fmt, getJson, setStatus, table, when } from '../api.js'

export async function showClusters(view) {
  view.append(el('h1', { text: 'Clusters' }))
  const page = await getJson('/v1/clusters?limit=500')
  const rows = page.items.map((c) =>
    el(
      'tr',
      { 'data-cluster': c.name },
      el('th', { scope: 'row' }, el('a', { href: `#/clusters/${enc(c.name)}`, text: c.name })),
      el('td', { class: 'num', text: fmt(c.latestVersion) }),
      el('td', { class: 'num', text: fmt(c.versions) }),
      el('td', { text: when(c.createdAt) }),
      el('td', {}, el('a', { href: `#/clusters/${enc(c.name)}/history`, text: 'history' })),
    ),
  )
  view.append(table(['Cluster', 'Latest version', 'Versions', 'Created', 'History'], rows, { id: 'clusters' }))
  setStatus(page.items.length ? `${page.items.length} cluster(s)` : 'No clusters yet: POST a snapshot to /v1/clusters/NAME/snapshots')
}
