/**
 * GraphQL parity for history: the same diff, history, rollback, backup, import, prune and delete
 * as REST, through POST /graphql on the real app, with the same scope rules.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ingest, smallEnvelope, startHistoryApp, uniqueName, type HistoryTestApp } from './helpers.js'

const TOKENS = 'reader:read:reader-secret-0123456789,writer:write:writer-secret-0123456789,root:admin:admin-secret-01234567890'
let t: HistoryTestApp
beforeAll(async () => {
  const { parseTokens } = await import('../../src/config.js')
  t = await startHistoryApp({ tokens: parseTokens(TOKENS) })
})
afterAll(async () => t?.close())

async function gql(query: string, variables: Record<string, unknown> = {}, token = 'writer-secret-0123456789'): Promise<{ data: any; errors?: any[] }> {
  const res = await t.app.inject({ method: 'POST', url: '/graphql', payload: { query, variables }, headers: { authorization: `Bearer ${token}` } })
  return res.json()
}

describe('graphql history', () => {
  const cluster = uniqueName('hgql')
  beforeAll(async () => {
    await ingest(t.app, cluster, smallEnvelope({ endpoints: ['10.1.0.5'] }), 'writer-secret-0123456789')
    await ingest(t.app, cluster, smallEnvelope({ endpoints: ['10.1.0.6'] }), 'writer-secret-0123456789')
  })

  it('diff: the same JSON and texts as REST', async () => {
    const r = await gql(`query($c: String!) { diff(cluster: $c, from: "1", to: "latest") { from to identical summary families unified restore } }`, {
      c: cluster,
    })
    expect(r.errors).toBeUndefined()
    const rest = await t.app.inject({
      method: 'GET',
      url: `/v1/clusters/${cluster}/diff?from=1&to=2`,
      headers: { authorization: 'Bearer reader-secret-0123456789' },
    })
    const { links: _links, ...json } = rest.json()
    expect({
      from: r.data.diff.from,
      to: r.data.diff.to,
      identical: r.data.diff.identical,
      summary: r.data.diff.summary,
      families: r.data.diff.families,
    }).toEqual({
      from: json.from,
      to: json.to,
      identical: json.identical,
      summary: json.summary,
      families: json.families,
    })
    const restore = await t.app.inject({
      method: 'GET',
      url: `/v1/clusters/${cluster}/diff?from=1&to=2&format=restore`,
      headers: { authorization: 'Bearer reader-secret-0123456789' },
    })
    expect(r.data.diff.restore).toBe(restore.body)
    expect(r.data.diff.unified).toContain('+++ v2/restore.rules')
  })

  it('rollback needs write; then history shows it with the token name as actor', async () => {
    const denied = await gql(
      `mutation($c: String!) { rollback(cluster: $c, toVersion: 1, reason: "r") { replaced } }`,
      { c: cluster },
      'reader-secret-0123456789',
    )
    expect(denied.errors?.[0].extensions.status).toBe(403)
    const r = await gql(
      `mutation($c: String!) { rollback(cluster: $c, toVersion: 1, reason: "revert") { replaced version { version kind sourceVersion actor } } }`,
      { c: cluster },
    )
    expect(r.errors).toBeUndefined()
    expect(r.data.rollback).toEqual({ replaced: 2, version: { version: 3, kind: 'rollback', sourceVersion: 1, actor: 'writer' } })
    const again = await gql(`mutation($c: String!) { rollback(cluster: $c, toVersion: 1, reason: "again") { replaced } }`, { c: cluster })
    expect(again.errors?.[0].extensions.status).toBe(409)
    const h = await gql(
      `query($c: String!) { history(cluster: $c, types: ["rollback"]) { items { type actor version fromVersion toVersion reason } next } }`,
      { c: cluster },
      'reader-secret-0123456789',
    )
    expect(h.data.history).toEqual({ items: [{ type: 'rollback', actor: 'writer', version: 3, fromVersion: 2, toVersion: 1, reason: 'revert' }], next: null })
    const bad = await gql(`query($c: String!) { history(cluster: $c, types: ["nope"]) { next } }`, { c: cluster })
    expect(bad.errors?.[0].extensions.status).toBe(400)
  })

  it('backup, import (base64), prune and delete mutations', async () => {
    const b = await gql(`mutation($c: String!) { createBackup(cluster: $c, note: "gql") { id sha256 bytes versions downloadUrl } }`, { c: cluster })
    expect(b.errors).toBeUndefined()
    expect(b.data.createBackup.versions).toBe(3)
    const listed = await gql(`query($c: String!) { backups(cluster: $c) { items { id } } backup(id: "${b.data.createBackup.id}") { sha256 } }`, { c: cluster })
    expect(listed.data.backups.items.map((x: { id: string }) => x.id)).toEqual([b.data.createBackup.id])
    expect(listed.data.backup.sha256).toBe(b.data.createBackup.sha256)
    const archive = (await t.app.inject({ method: 'GET', url: b.data.createBackup.downloadUrl, headers: { authorization: 'Bearer reader-secret-0123456789' } }))
      .rawPayload

    const target = uniqueName('hgqlimp')
    const imp = await gql(
      `mutation($c: String!, $a: String!) { importBackup(cluster: $c, archiveBase64: $a) { versions { version archivedVersion } replanned } }`,
      {
        c: target,
        a: archive.toString('base64'),
      },
    )
    expect(imp.errors).toBeUndefined()
    expect(imp.data.importBackup.versions).toHaveLength(3)
    expect(await restoreScriptAs(target, 3)).toBe(await restoreScriptAs(cluster, 3))
    const bad = await gql(`mutation($c: String!, $a: String!) { importBackup(cluster: $c, archiveBase64: $a) { replanned } }`, {
      c: uniqueName('x'),
      a: archive.subarray(0, 100).toString('base64'),
    })
    expect(bad.errors?.[0].extensions.status).toBe(422)

    const denied = await gql(`mutation($c: String!) { prune(cluster: $c, keep: 1) { pruned } }`, { c: target })
    expect(denied.errors?.[0].extensions.status).toBe(403)
    const pruned = await gql(`mutation($c: String!) { prune(cluster: $c, keep: 1) { pruned kept } }`, { c: target }, 'admin-secret-01234567890')
    expect(pruned.data.prune).toEqual({ pruned: [1, 2], kept: 1 })
    const del = await gql(`mutation($c: String!) { deleteCluster(cluster: $c) { cluster versions } }`, { c: target }, 'admin-secret-01234567890')
    expect(del.data.deleteCluster).toEqual({ cluster: target, versions: 1 })
  })
})

async function restoreScriptAs(cluster: string, v: number): Promise<string> {
  const res = await t.app.inject({
    method: 'GET',
    url: `/v1/clusters/${cluster}/versions/${v}/restore-script`,
    headers: { authorization: 'Bearer reader-secret-0123456789' },
  })
  expect(res.statusCode).toBe(200)
  return res.body
}
