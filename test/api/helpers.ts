/**
 * API test harness: the real app on the real services and the run's PostgreSQL database
 * (test/helpers). Each file uses its own cluster names (uniqueName), so files share the database.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.js'
import { defaultConfig, type Config } from '../../src/config.js'
import type { Database } from '../../src/db/index.js'
import type { Services } from '../../src/services/contract.js'
import { openTestServices } from '../helpers/services.js'

export { uniqueName } from '../helpers/db.js'

export interface TestApp {
  app: FastifyInstance
  services: Services
  db: Database
  close(): Promise<void>
}

export async function startTestApp(overrides: Partial<Config> = {}, logger: FastifyBaseLogger | false = false): Promise<TestApp> {
  const { db, services } = await openTestServices({ poolSize: 4 })
  const app = await buildApp({ config: defaultConfig({ rateLimit: null, ...overrides }), services, logger })
  await app.ready()
  return {
    app,
    services,
    db,
    async close() {
      await app.close()
      await db.close()
    },
  }
}

export const FIXTURES = fileURLToPath(new URL('../fixtures/conformance/', import.meta.url))

export function fixtureCases(): string[] {
  return readdirSync(FIXTURES).filter((d) => !d.startsWith('.')).sort()
}

export function fixture(name: string): { snapshot: Record<string, unknown>; text: string; expected: string } {
  const text = readFileSync(`${FIXTURES}${name}/snapshot.json`, 'utf8')
  return { snapshot: JSON.parse(text) as Record<string, unknown>, text, expected: readFileSync(`${FIXTURES}${name}/expected.txt`, 'utf8') }
}

/** A small valid envelope: one ClusterIP service with one ready endpoint on this node. */
export function smallEnvelope(opts: { port?: number; name?: string; endpoints?: string[] } = {}): Record<string, any> {
  const name = opts.name ?? 'web'
  const port = opts.port ?? 80
  return {
    proxy: { nodeName: 'node-a', nodeIPs: ['192.168.0.2'], clusterCIDR: '10.0.0.0/8' },
    resources: {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name, namespace: 'default' },
          spec: { type: 'ClusterIP', clusterIP: '172.30.0.10', clusterIPs: ['172.30.0.10'], ports: [{ name: 'http', protocol: 'TCP', port, targetPort: 8080 }] },
        },
        {
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: { name: `${name}-1`, namespace: 'default', labels: { 'kubernetes.io/service-name': name } },
          addressType: 'IPv4',
          ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
          endpoints: (opts.endpoints ?? ['10.1.0.5']).map((ip) => ({ addresses: [ip], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'node-a' })),
        },
      ],
    },
  }
}
