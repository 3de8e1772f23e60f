/**
 * PROOF on the real kernel, both backends, that minimalRestore(a, b) is a correct partial sync:
 * apply A in full, then the delta with `iptables-restore --noflush` (kube-proxy's flags), and
 * iptables-save must print exactly what applying B in full prints. The pairs walk a generated
 * snapshot through services added, removed, scaled up and down, ClusterIP -> NodePort ->
 * LoadBalancer (with source ranges), eTP Cluster <-> Local, and ClientIP affinity on and off.
 * Inputs stay small: nft `--noflush` is quadratic (docs/kernel.md, "Facts of the tools").
 */
import { expect, it } from 'vitest'
import { plan, renderRestore, type Envelope, type FamilyPlan } from '../../src/planner/index.js'
import { generateSnapshot } from '../../src/planner/testing/generate.js'
import { minimalRestore } from '../../src/planner/analysis/index.js'
import { kernelDescribe } from '../kernel/gate.js'
import { BACKENDS, createNetns, deleteNetns, nfacctAdd, restore, save, withNetns, type Backend } from '../kernel/netns.js'

const { describe } = await kernelDescribe('test/kernel-analysis/minimal.test.ts', { nfacct: true })

type Item = Record<string, any>
type Mutation = [name: string, mutate: (items: Item[]) => Item[]]

const svc = (items: Item[], name: string) => items.find((i) => i.kind === 'Service' && i.metadata.name === name)!
const slice = (items: Item[], name: string) => items.find((i) => i.kind === 'EndpointSlice' && i.metadata.labels['kubernetes.io/service-name'] === name)!
const clone = <T>(x: T): T => structuredClone(x)
const endpoint = (ip: string, node: string) => ({ addresses: [ip], conditions: { ready: true, serving: true, terminating: false }, nodeName: node })

const MUTATIONS: Mutation[] = [
  [
    'service added',
    (items) => {
      const s = clone(svc(items, 'svc-0'))
      s.metadata.name = 'svc-new'
      s.spec.clusterIP = '172.16.5.5'
      s.spec.clusterIPs = ['172.16.5.5']
      const e = clone(slice(items, 'svc-0'))
      e.metadata.name = 'svc-new-abcde'
      e.metadata.labels['kubernetes.io/service-name'] = 'svc-new'
      e.endpoints = [endpoint('10.128.50.1', 'node-1'), endpoint('10.128.50.2', 'node-0')]
      return [...items, s, e]
    },
  ],
  [
    'endpoints scaled up',
    (items) => {
      slice(items, 'svc-0').endpoints.push(endpoint('10.128.60.1', 'node-0'), endpoint('10.128.60.2', 'node-2'))
      return items
    },
  ],
  [
    'ClusterIP -> NodePort',
    (items) => {
      const s = svc(items, 'svc-0')
      s.spec.type = 'NodePort'
      s.spec.externalTrafficPolicy = 'Cluster'
      s.spec.ports[0].nodePort = 31000
      return items
    },
  ],
  [
    'NodePort -> LoadBalancer with source ranges',
    (items) => {
      const s = svc(items, 'svc-0')
      s.spec.type = 'LoadBalancer'
      s.spec.loadBalancerSourceRanges = ['203.0.113.0/25']
      s.status = { loadBalancer: { ingress: [{ ip: '198.51.100.7', ipMode: 'VIP' }] } }
      return items
    },
  ],
  [
    'eTP Cluster -> Local',
    (items) => {
      const s = svc(items, 'svc-0')
      s.spec.externalTrafficPolicy = 'Local'
      s.spec.healthCheckNodePort = 32000
      return items
    },
  ],
  [
    'ClientIP affinity on',
    (items) => {
      const s = svc(items, 'svc-0')
      s.spec.sessionAffinity = 'ClientIP'
      s.spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 10800 } }
      return items
    },
  ],
  [
    'eTP Local -> Cluster, affinity off',
    (items) => {
      const s = svc(items, 'svc-0')
      s.spec.externalTrafficPolicy = 'Cluster'
      delete s.spec.healthCheckNodePort
      s.spec.sessionAffinity = 'None'
      delete s.spec.sessionAffinityConfig
      return items
    },
  ],
  ['service removed', (items) => items.filter((i) => i.metadata.name !== 'svc-1' && i.metadata.labels?.['kubernetes.io/service-name'] !== 'svc-1')],
  [
    'endpoints scaled down to one',
    (items) => {
      slice(items, 'svc-0').endpoints.splice(1)
      return items
    },
  ],
  [
    'endpoints all gone (REJECT only)',
    (items) => {
      slice(items, 'svc-new').endpoints = []
      return items
    },
  ],
]

function steps(): Array<{ name: string; fp: FamilyPlan }> {
  const base = generateSnapshot({
    services: 6,
    endpointsPerService: 2,
    nodePort: 0.3,
    loadBalancer: 0.3,
    sourceRanges: 0.5,
    clientIPAffinity: 0.2,
    externalLocal: 0.3,
  })
  let env: Envelope = base
  const out = [{ name: 'base', fp: plan(env).families[0]! }]
  for (const [name, mutate] of MUTATIONS) {
    const items = mutate(clone(env.resources.items) as Item[])
    env = { ...env, resources: { ...env.resources, items } } as Envelope
    out.push({ name, fp: plan(env).families[0]! })
  }
  return out
}

async function fullApplySave(backend: Backend, fp: FamilyPlan): Promise<string> {
  return withNetns(`min-full-${backend}`, async (ns) => {
    await nfacctAdd(ns)
    await restore(ns, backend, renderRestore(fp))
    return save(ns, backend)
  })
}

describe('minimalRestore on the real kernel', () => {
  const plans = steps()

  it('every mutation changes the plan (the pairs are not trivial)', () => {
    for (let i = 1; i < plans.length; i++) expect(renderRestore(plans[i]!.fp), plans[i]!.name).not.toBe(renderRestore(plans[i - 1]!.fp))
  })

  for (const backend of BACKENDS) {
    it(`A in full, then each delta with --noflush, equals each B in full (${backend})`, async () => {
      const node = await createNetns(`min-${backend}`)
      try {
        await nfacctAdd(node)
        await restore(node, backend, renderRestore(plans[0]!.fp), { noflush: true, counters: true })
        for (let i = 1; i < plans.length; i++) {
          const delta = minimalRestore(plans[i - 1]!.fp, plans[i]!.fp)
          await restore(node, backend, delta, { noflush: true, counters: true })
          const got = await save(node, backend)
          expect(got, `${plans[i]!.name}: delta\n${delta}`).toBe(await fullApplySave(backend, plans[i]!.fp))
        }
      } finally {
        await deleteNetns(node)
      }
    })
  }
})
