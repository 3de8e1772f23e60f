// #/backups : every backup (a tar.gz of a cluster's versions), creating one, downloading one,
// and importing an archive into a cluster.
import { api, download, el, enc, fmt, getJson, postJson, setStatus, showError, table, when } from '../api.js'

function field(id, label, input) {
  input.id = id
  return el('div', { class: 'field' }, el('label', { for: id, text: label }), input)
}

export async function showBackups(view) {
  view.append(el('h1', { text: 'Backups' }))
  const clusters = (await getJson('/v1/clusters?limit=500')).items

  // Create.
  const cluster = el('select', { required: true }, ...clusters.map((c) => el('option', { value: c.name, text: c.name })))
  const from = el('input', { type: 'number', min: '1', placeholder: 'oldest' })
  const to = el('input', { type: 'number', min: '1', placeholder: 'latest' })
  const note = el('input', { type: 'text', maxlength: '1000' })
  const created = el('p', { id: 'backup-created', 'aria-live': 'polite' })
  const create = el(
    'form',
    { id: 'backup-form', class: 'grid-form' },
    field('backup-cluster', 'Cluster', cluster),
    field('backup-from', 'From version', from),
    field('backup-to', 'To version', to),
    field('backup-note', 'Note', note),
    el('button', { type: 'submit', text: 'Create backup' }),
  )
  create.addEventListener('submit', (ev) => {
    ev.preventDefault()
    const body = {}
    if (from.value) body.fromVersion = Number(from.value)
    if (to.value) body.toVersion = Number(to.value)
    if (note.value) body.note = note.value
    postJson(`/v1/clusters/${enc(cluster.value)}/backups`, body)
      .then((b) => {
        created.textContent = `Backup ${b.id}: ${b.cluster} v${b.fromVersion}–v${b.toVersion}, ${fmt(b.bytes)} bytes`
        created.dataset.id = b.id
        return list()
      })
      .catch((e) => showError(created, e))
  })

  // Import.
  const file = el('input', { type: 'file', accept: '.tar.gz,.tgz,application/gzip', required: true })
  const target = el('input', { type: 'text', required: true, placeholder: 'cluster name (created if absent)' })
  const imported = el('div', { id: 'import-result', 'aria-live': 'polite' })
  const importForm = el('form', { id: 'import-form', class: 'grid-form' }, field('import-file', 'Archive (.tar.gz)', file), field('import-cluster', 'Into cluster', target), el('button', { type: 'submit', text: 'Import' }))
  importForm.addEventListener('submit', async (ev) => {
    ev.preventDefault()
    imported.removeAttribute('data-done')
    try {
      const f = file.files?.[0]
      if (!f) throw new Error('choose an archive first')
      const r = await (await api(`/v1/backups/import?cluster=${enc(target.value.trim())}`, { method: 'POST', headers: { 'content-type': 'application/gzip' }, body: f })).json()
      imported.replaceChildren(
        el(
          'p',
          {},
          `Imported into `,
          el('a', { href: `#/clusters/${enc(r.cluster)}`, text: r.cluster }),
          ` from ${r.sourceCluster}: ${r.versions.length} version(s) created (${r.versions.map((x) => `v${x.version}`).join(', ') || 'none'}), ${r.existing.length} already there` +
            (r.replanned.length ? `; replanned: ${r.replanned.join(', ')}` : ''),
        ),
      )
      imported.dataset.created = String(r.versions.length)
    } catch (e) {
      showError(imported, e)
    }
    imported.dataset.done = 'true'
  })

  // List.
  const listBox = el('div', { id: 'backups-list' })
  const list = async () => {
    const page = await getJson('/v1/backups?limit=100')
    const rows = page.items.map((b) => {
      const dl = el('button', { type: 'button', class: 'link', 'data-download-backup': b.id, text: 'Download' })
      dl.addEventListener('click', () => download(b.links.download, `${b.cluster}-v${b.fromVersion}-v${b.toVersion}.tar.gz`).catch((e) => setStatus(e.message, true)))
      return el(
        'tr',
        { 'data-backup': b.id },
        el('td', {}, el('code', { title: b.id, text: b.id.slice(0, 8) })),
        el('td', {}, el('a', { href: `#/clusters/${enc(b.cluster)}`, text: b.cluster })),
        el('td', { text: `v${b.fromVersion}–v${b.toVersion}` }),
        el('td', { class: 'num', text: fmt(b.versions) }),
        el('td', { class: 'num', text: fmt(b.bytes) }),
        el('td', { text: when(b.createdAt) }),
        el('td', { text: b.actor }),
        el('td', { text: b.note ?? '' }),
        el('td', {}, dl),
      )
    })
    listBox.replaceChildren(
      rows.length ? table(['Backup', 'Cluster', 'Versions', 'Count', 'Bytes', 'Created', 'Actor', 'Note', 'Archive'], rows, { id: 'backups' }) : el('p', { text: 'No backups yet.' }),
    )
    listBox.dataset.count = String(rows.length)
    setStatus(`${rows.length} backup(s)`)
  }

  view.append(
    el('section', { 'aria-labelledby': 'bl-h' }, el('h2', { id: 'bl-h', text: 'Stored backups' }), listBox),
    el('section', { 'aria-labelledby': 'bc-h' }, el('h2', { id: 'bc-h', text: 'Create a backup' }), create, created),
    el('section', { 'aria-labelledby': 'bi-h' }, el('h2', { id: 'bi-h', text: 'Import an archive' }), importForm, imported),
  )
  await list()
}
