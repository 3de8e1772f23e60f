// natplan's UI: hash-routed pages over the REST API (/v1). Vanilla ES modules, no build step;
// no inline scripts or styles, so the page runs under a strict Content-Security-Policy.
//
//   #/                                   clusters
//   #/clusters/NAME                      versions, growth chart, diff of two versions
//   #/clusters/NAME/versions/N           restore script, nodes, node-to-node diff, trace, drift, cleanup
//   #/clusters/NAME/history              the cluster's history
//   #/backups                            backups: create, download, import

import { saveToken, setStatus, showError, token } from './api.js'
import { showBackups } from './pages/backups.js'
import { showCluster } from './pages/cluster.js'
import { showClusters } from './pages/clusters.js'
import { showHistory } from './pages/history.js'
import { showVersion } from './pages/version.js'

const ROUTES = [
  [/^#\/clusters\/([^/]+)\/versions\/(\d+)$/, (m, v) => showVersion(v, decodeURIComponent(m[1]), Number(m[2])), 'clusters'],
  [/^#\/clusters\/([^/]+)\/history$/, (m, v) => showHistory(v, decodeURIComponent(m[1])), 'clusters'],
  [/^#\/clusters\/([^/]+)$/, (m, v) => showCluster(v, decodeURIComponent(m[1])), 'clusters'],
  [/^#\/backups$/, (m, v) => showBackups(v), 'backups'],
  [/^(#\/?)?$/, (m, v) => showClusters(v), 'clusters'],
]

let first = true

async function route() {
  const view = document.querySelector('#view')
  view.replaceChildren()
  view.removeAttribute('data-ready')
  setStatus('')
  const found = ROUTES.map(([re, show, nav]) => [re.exec(location.hash), show, nav]).find(([m]) => m)
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (found && a.dataset.nav === found[2]) a.setAttribute('aria-current', 'page')
    else a.removeAttribute('aria-current')
  }
  try {
    if (!found) throw new Error(`no page at ${location.hash}`)
    await found[1](found[0], view)
  } catch (e) {
    showError(view, e)
  }
  view.dataset.ready = 'true'
  // A new page moves the keyboard focus to its content (not on the first load: the token field
  // and the navigation come first then).
  if (!first) view.focus()
  first = false
}

function init() {
  document.querySelector('#token').value = token()
  document.querySelector('#token-form').addEventListener('submit', (ev) => {
    ev.preventDefault()
    saveToken(document.querySelector('#token').value)
    route()
  })
  window.addEventListener('hashchange', route)
  route()
}

init()
