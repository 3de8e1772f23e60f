/**
 * PostgreSQL going away and coming back, for real: the services talk to the test server
 * through a TCP relay that the test cuts and restores (the same sockets die as when PostgreSQL
 * restarts or a network partition happens).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase, type Database } from '../../src/db/index.js'
import { freePort } from '../../src/db/embedded.js'
import { UnavailableError } from '../../src/errors.js'
import { createServices } from '../../src/services/index.js'
import type { Services } from '../../src/services/contract.js'
import { generateSnapshot } from '../../src/planner/testing/generate.js'
import { testDatabaseUrl, uniqueName } from '../helpers/db.js'

class Relay {
  private server: Server | undefined
  private readonly sockets = new Set<Socket>()
  constructor(
    readonly port: number,
    readonly target: { host: string; port: number },
  ) {}

  async start(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = createConnection(this.target)
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on('close', () => this.sockets.delete(s))
        s.on('error', () => {})
      }
      client.pipe(upstream).pipe(client)
    })
    await new Promise<void>((res) => this.server!.listen(this.port, '127.0.0.1', res))
  }

  async cut(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    await new Promise<void>((res) => (this.server ? this.server.close(() => res()) : res()))
    this.server = undefined
  }
}

let relay: Relay
let db: Database
let services: Services
beforeAll(async () => {
  const url = new URL(testDatabaseUrl())
  relay = new Relay(await freePort(), { host: url.hostname, port: Number(url.port || 5432) })
  await relay.start()
  url.hostname = '127.0.0.1'
  url.port = String(relay.port)
  db = await openDatabase({ databaseUrl: url.toString(), poolSize: 3 })
  services = createServices(db)
})
afterAll(async () => {
  await relay?.cut()
  await db?.close()
})

describe('database outages', () => {
  it('maps an unreachable database to UnavailableError and recovers when it returns', async () => {
    const cluster = uniqueName('outage')
    await services.ingest({ cluster, document: generateSnapshot({ services: 5 }), actor: 'a' })
    expect((await services.getVersion(cluster, 'latest')).version).toBe(1)

    await relay.cut()
    await expect(services.getVersion(cluster, 'latest')).rejects.toBeInstanceOf(UnavailableError)
    await expect(services.listClusters()).rejects.toBeInstanceOf(UnavailableError)
    await expect(services.ingest({ cluster, document: generateSnapshot({ services: 6 }), actor: 'a' })).rejects.toBeInstanceOf(UnavailableError)
    const notReady = await services.readiness()
    expect(notReady.ok).toBe(false)
    expect(notReady.detail).toMatch(/unavailable/)

    await relay.start()
    expect((await services.getVersion(cluster, 'latest')).version).toBe(1)
    const second = await services.ingest({ cluster, document: generateSnapshot({ services: 6 }), actor: 'a' })
    expect(second.version.version).toBe(2)
    expect((await services.readiness()).ok).toBe(true)
  })
})

describe('start-up', () => {
  it('waits for a PostgreSQL that comes up after the process', async () => {
    const url = new URL(testDatabaseUrl())
    const late = new Relay(await freePort(), { host: url.hostname, port: Number(url.port || 5432) })
    url.hostname = '127.0.0.1'
    url.port = String(late.port)
    const opening = openDatabase({ databaseUrl: url.toString(), poolSize: 2, startupTimeoutMs: 20_000 })
    await new Promise((r) => setTimeout(r, 700))
    await late.start()
    const lateDb = await opening
    try {
      expect((await createServices(lateDb).readiness()).ok).toBe(true)
    } finally {
      await lateDb.close()
      await late.cut()
    }
  })

  it('gives up with the connection error after startupTimeoutMs', async () => {
    const port = await freePort()
    await expect(openDatabase({ databaseUrl: `postgresql://postgres@127.0.0.1:${port}/none`, startupTimeoutMs: 300 })).rejects.toThrow(/ECONNREFUSED/)
  })
})
