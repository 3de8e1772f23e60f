/**
 * Real data for the UI tests, ingested through the API: a cluster whose first version is the
 * three-node kubectl dump (test/fixtures/cluster/three-nodes.json: nodes with different rules, a
 * Local-policy Service), then generated snapshots that grow, and a rollback. Its versions are then
 * spread over the last six days (the projection needs a day of history or more).
 */
import { readFileSync } from 'node:fs'
import { expect } from 'vitest'
import { generateSnapshot } from '../../src/planner/testing/generate.js'
import type { TestApp } from '../api/helpers.js'

export const THREE_NODES = JSON.parse(readFileSync(new URL('../fixtures/cluster/three-nodes.json', import.meta.url), 'utf8')) as Record<string, unknown>

const DAY = 86_400_000

export async function seedCluster(t: TestApp, cluster: string): Promise<void> {
  const post = async (url: string, payload: unknown) => {
    const res = await t.app.inject({ method: 'POST', url, payload: payload as Record<string, unknown> })
    expect(res.statusCode, res.body).toBeLessThan(300)
  }
  await post(`/v1/clusters/${cluster}/snapshots`, THREE_NODES)
  for (const services of [3, 6, 9]) await post(`/v1/clusters/${cluster}/snapshots`, generateSnapshot({ services, namespaces: 2, seed: 7 }))
  await post(`/v1/clusters/${cluster}/rollbacks`, { toVersion: 3, reason: 'ui test: back to v3' })
  for (const services of [12, 16]) await post(`/v1/clusters/${cluster}/snapshots`, generateSnapshot({ services, namespaces: 2, seed: 7 }))
  // v1..v7 one day apart, the newest an hour ago.
  const n = 7
  for (let v = 1; v <= n; v++) {
    const at = new Date(Date.now() - DAY / 24 - (n - v) * DAY)
    for (const table of ['versions', 'version_stats']) {
      await t.db.pool.query(`UPDATE ${table} x SET created_at = $3 FROM clusters c WHERE c.id = x.cluster_id AND c.name = $1 AND x.number = $2`, [
        cluster,
        v,
        at,
      ])
    }
  }
}
