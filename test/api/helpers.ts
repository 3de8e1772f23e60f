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
  return readdirSync(FIXTURES)
    .filter((d) => !d.startsWith('.'))
    .sort()
}

export interface Fixture {
  snapshot: Record<string, unknown>
  text: string
  /** The whole expected.txt: one normal form per family, separated by a `# IPv6` line. */
  expected: string
  /** Per family, in plan order (IPv4 first), each normalised on its own. */
  families: Array<{ family: 'IPv4' | 'IPv6'; expected: string }>
}

export function fixture(name: string): Fixture {
  const text = readFileSync(`${FIXTURES}${name}/snapshot.json`, 'utf8')
  const expected = readFileSync(`${FIXTURES}${name}/expected.txt`, 'utf8')
  const snapshot = JSON.parse(text) as Record<string, unknown>
  const parts = expected.split('# IPv6\n')
  const families =
    parts.length === 2
      ? [
          { family: 'IPv4' as const, expected: parts[0]! },
          { family: 'IPv6' as const, expected: parts[1]! },
        ]
      : [{ family: singleFamily(snapshot), expected }]
  return { snapshot, text, expected, families }
}

/** A single-stack case's family: from its cluster CIDR, else its first node IP. */
function singleFamily(snapshot: Record<string, unknown>): 'IPv4' | 'IPv6' {
  const proxy = (snapshot.proxy ?? {}) as { clusterCIDR?: string | string[]; nodeIPs?: string[]; ipFamilies?: string[] }
  if (proxy.ipFamilies?.length === 1) return proxy.ipFamilies[0] as 'IPv4' | 'IPv6'
  const cidr = Array.isArray(proxy.clusterCIDR) ? proxy.clusterCIDR[0] : proxy.clusterCIDR?.split(',')[0]
  const probe = cidr ?? proxy.nodeIPs?.[0] ?? ''
  return probe.includes(':') ? 'IPv6' : 'IPv4'
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
          spec: {
            type: 'ClusterIP',
            clusterIP: '172.30.0.10',
            clusterIPs: ['172.30.0.10'],
            ports: [{ name: 'http', protocol: 'TCP', port, targetPort: 8080 }],
          },
        },
        {
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: { name: `${name}-1`, namespace: 'default', labels: { 'kubernetes.io/service-name': name } },
          addressType: 'IPv4',
          ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
          endpoints: (opts.endpoints ?? ['10.1.0.5']).map((ip) => ({
            addresses: [ip],
            conditions: { ready: true, serving: true, terminating: false },
            nodeName: 'node-a',
          })),
        },
      ],
    },
  }
}
