/**
 * Regression tests for the ways a write token could reach a node's firewall: names and settings
 * that end a comment or a line of the restore input are refused as the API server refuses them
 * (400, pointer at the field, nothing stored); the rule writers refuse them again on their own;
 * and a version stored by an earlier natplan, before input was validated, is never served.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { plan, UnsafeWordError } from '../../src/planner/index.js'
import { unvalidatedEnvelope } from '../planner/arbitraries.js'
import { smallEnvelope, startTestApp, uniqueName, type TestApp } from '../api/helpers.js'

/** The payload: a Service name that closes the comment and starts a rule of its own. */
const INJECTION = 'x" -j ACCEPT\n-I INPUT 1 -s 6.6.6.6/32 -j ACCEPT\n-A KUBE-SERVICES -m comment --comment "y'

let t: TestApp
beforeAll(async () => {
  t = await startTestApp()
})
afterAll(async () => {
  await t?.close()
})

const post = (url: string, payload: unknown) => t.app.inject({ method: 'POST', url, payload: payload as object })

async function expectRefused(cluster: string, payload: unknown, pointer: string, query = ''): Promise<void> {
  const res = await post(`/v1/clusters/${cluster}/snapshots${query}`, payload)
  expect(res.statusCode, res.body).toBe(400)
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
  const body = res.json() as { errors: Array<{ pointer: string; detail: string }> }
  expect(body.errors.map((e) => e.pointer)).toContain(pointer)
  // Nothing was stored: the cluster does not even exist.
  expect((await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/versions` })).statusCode).toBe(404)
}

describe('names and settings that could end a comment or a line', () => {
  it('a Service name carrying a rule of its own is a 400 pointing at the name', async () => {
    const doc = smallEnvelope()
    doc.resources.items[0].metadata.name = INJECTION
    doc.resources.items[1].metadata.labels['kubernetes.io/service-name'] = INJECTION
    await expectRefused(uniqueName('inject'), doc, '/resources/items/0/metadata/name')
  })

  it('so are the namespace, a port name and the service-name label', async () => {
    const ns = smallEnvelope()
    ns.resources.items[0].metadata.namespace = INJECTION
    await expectRefused(uniqueName('inject'), ns, '/resources/items/0/metadata/namespace')
    const port = smallEnvelope()
    port.resources.items[0].spec.ports[0].name = 'http" -j ACCEPT'
    await expectRefused(uniqueName('inject'), port, '/resources/items/0/spec/ports/0/name')
    const label = smallEnvelope()
    label.resources.items[1].metadata.labels['kubernetes.io/service-name'] = 'web\n-A KUBE-FORWARD -j ACCEPT'
    await expectRefused(uniqueName('inject'), label, '/resources/items/1/metadata/labels/kubernetes.io~1service-name')
  })

  it('a NUL in a name and ?zone=%00 are 400s, not database errors', async () => {
    const doc = smallEnvelope()
    doc.resources.items[0].metadata.name = 'web\u0000'
    await expectRefused(uniqueName('nul'), doc, '/resources/items/0/metadata/name')
    await expectRefused(uniqueName('nul'), smallEnvelope().resources, '/proxy/zone', '?zone=%00')
  })

  it('clusterCIDR "not-a-cidr", "10.0.0.0/99" and one with a rule appended are 400s', async () => {
    for (const cidr of ['not-a-cidr', '10.0.0.0/99', '10.0.0.0/8 -j ACCEPT', '10.0.0.0/8\n-A KUBE-FORWARD -j ACCEPT', '10.0.0.0/8,10.1.0.0/16']) {
      const doc = smallEnvelope()
      doc.proxy.clusterCIDR = cidr
      await expectRefused(uniqueName('cidr'), doc, '/proxy/clusterCIDR')
    }
  })

  it('the writers refuse such a name even when validation is skipped', () => {
    const doc = smallEnvelope()
    doc.resources.items[0].metadata.name = INJECTION
    doc.resources.items[1].metadata.labels['kubernetes.io/service-name'] = INJECTION
    expect(() => plan(unvalidatedEnvelope(doc))).toThrow(UnsafeWordError)
    const cidr = smallEnvelope()
    // A clusterCIDR that slipped past the schema (the planner's own input type allows any string).
    const env = unvalidatedEnvelope(cidr)
    env.proxy.clusterCIDR = '10.0.0.0/8\n-A INPUT -j ACCEPT'
    expect(() => plan(env)).toThrow(UnsafeWordError)
  })
})

describe('a version stored before input was validated', () => {
  const cluster = uniqueName('stored')
  const service = uniqueName('tampered')

  beforeAll(async () => {
    expect((await post(`/v1/clusters/${cluster}/snapshots`, smallEnvelope({ name: service }))).statusCode).toBe(201)
    expect((await post(`/v1/clusters/${cluster}/snapshots`, smallEnvelope({ name: service, port: 81 }))).statusCode).toBe(201)
    // What an earlier natplan wrote for such a name: the segment's name and rules carry the payload.
    const res = await t.db.pool.query(
      `UPDATE segments SET service = $1, nat_rules = nat_rules || '-I INPUT 1 -s 6.6.6.6/32 -j ACCEPT' || chr(10)
       WHERE id = ANY((SELECT array_agg(s.id) FROM segments s WHERE s.service = $2)::int8[])`,
      [`default/${service}" -j ACCEPT`, `default/${service}:http`],
    )
    expect(res.rowCount).toBeGreaterThan(0)
  })

  it('is still listed, but its content is refused with a problem naming the object', async () => {
    expect((await t.app.inject({ method: 'GET', url: `/v1/clusters/${cluster}/versions/1` })).statusCode).toBe(200)
    for (const url of [
      `/v1/clusters/${cluster}/versions/1/restore-script`,
      `/v1/clusters/${cluster}/versions/1/plan`,
      `/v1/clusters/${cluster}/versions/latest/restore-script`,
      `/v1/clusters/${cluster}/diff?from=1&to=2&format=restore`,
      `/v1/clusters/${cluster}/diff?from=1&to=2`,
    ]) {
      const res = await t.app.inject({ method: 'GET', url })
      expect(res.statusCode, url).toBe(422)
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect((res.json() as { detail: string }).detail).toContain(JSON.stringify(`default/${service}" -j ACCEPT`))
      expect(res.body).not.toContain('6.6.6.6')
    }
  })

  it('cannot be rolled back to nor backed up', async () => {
    const rb = await post(`/v1/clusters/${cluster}/rollbacks`, { toVersion: 1, reason: 'restore' })
    expect(rb.statusCode, rb.body).toBe(422)
    const backup = await post(`/v1/clusters/${cluster}/backups`, {})
    expect(backup.statusCode, backup.body).toBe(422)
  })

  it('a stored clusterCIDR that is not a CIDR is refused too', async () => {
    const other = uniqueName('stored')
    const created = await post(`/v1/clusters/${other}/snapshots`, smallEnvelope({ name: uniqueName('cidr') }))
    expect(created.statusCode).toBe(201)
    await t.db.pool.query(`UPDATE snapshots SET proxy = jsonb_set(proxy, '{clusterCIDR}', '"10.0.0.0/8 -j ACCEPT"') WHERE sha256 = decode($1, 'hex')`, [
      created.json().version.snapshotSha256,
    ])
    const res = await t.app.inject({ method: 'GET', url: `/v1/clusters/${other}/versions/1/restore-script` })
    expect(res.statusCode).toBe(422)
    expect(res.json().errors[0].pointer).toBe('/proxy/clusterCIDR')
  })
})
