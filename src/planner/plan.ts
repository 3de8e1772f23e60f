/**
 * Table assembly: snapshot envelope in, one FamilyPlan per IP family out.
 */
import type { Family, FamilyPlan, Plan, PlanWarning, Segment } from './types.js'
import type { Envelope } from './kube/envelope.js'
import type { EndpointSliceObject, EndpointsObject, ServiceObject } from './kube/schemas.js'
import { collectLegacyEndpoints, collectSlice, epKey, servicePortsOf, sortedEndpoints, type Endpoint, type ServicePort } from './model.js'
import { familyContext, nodeFamilies } from './context.js'
import { headSegment, tailSegment } from './rules/fixed.js'
import { serviceSegment } from './rules/service.js'

/** kube-proxy's largeClusterEndpointsThreshold (proxier.go). */
export const LARGE_CLUSTER_ENDPOINTS = 1000

interface Indexed {
  services: { obj: ServiceObject; at: string }[]
  slices: { obj: EndpointSliceObject; at: string }[]
  legacy: { obj: EndpointsObject; at: string }[]
  ignored: number
  ignoredKinds: Map<string, string>
}

function index(env: Envelope): Indexed {
  const out: Indexed = { services: [], slices: [], legacy: [], ignored: 0, ignoredKinds: new Map() }
  const items = env.resources.items
  for (let i = 0; i < items.length; i++) {
    const o = items[i]!
    const at = `/resources/items/${i}`
    switch (o.kind) {
      case 'Service':
        out.services.push({ obj: o as unknown as ServiceObject, at })
        break
      case 'EndpointSlice':
        out.slices.push({ obj: o as unknown as EndpointSliceObject, at })
        break
      case 'Endpoints':
        out.legacy.push({ obj: o as unknown as EndpointsObject, at })
        break
      case 'Node':
        break
      default:
        out.ignored++
        if (!out.ignoredKinds.has(o.kind)) out.ignoredKinds.set(o.kind, at)
    }
  }
  return out
}

function byNameThenProtocol(a: ServicePort, b: ServicePort): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1
  return a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0
}

interface FamilyInput {
  ports: ServicePort[]
  endpoints: Map<string, Map<string, Endpoint>>
}

function familyInput(ix: Indexed, family: Family, nodeName: string, warn: (w: PlanWarning) => void): FamilyInput {
  const ports: ServicePort[] = []
  const seenPorts = new Map<string, number>()
  for (const { obj, at } of ix.services) {
    for (const sp of servicePortsOf(obj, family, at, warn)) {
      // Same name+protocol twice (API would reject): the later one wins, as in kube-proxy's map.
      const k = `${sp.name}\0${sp.protocol}`
      const prev = seenPorts.get(k)
      if (prev !== undefined) ports[prev] = sp
      else {
        seenPorts.set(k, ports.length)
        ports.push(sp)
      }
    }
  }
  ports.sort(byNameThenProtocol)
  const endpoints = new Map<string, Map<string, Endpoint>>()
  const withSlices = new Set<string>()
  for (const { obj, at } of ix.slices) {
    const svcName = obj.metadata.labels?.['kubernetes.io/service-name']
    if (svcName) withSlices.add(`${obj.metadata.namespace ?? 'default'}/${svcName}`)
    collectSlice(obj, family, nodeName, at, endpoints, warn)
  }
  const serviceKeys = new Set(ports.map((p) => p.serviceKey))
  for (const { obj, at } of ix.legacy) {
    const key = `${obj.metadata.namespace ?? 'default'}/${obj.metadata.name}`
    if (withSlices.has(key) || !serviceKeys.has(key)) continue
    warn({
      code: 'legacy-endpoints',
      message: `${key}: no EndpointSlice, using the v1 Endpoints object (kube-proxy itself reads only EndpointSlices)`,
      pointer: at,
    })
    collectLegacyEndpoints(obj, family, nodeName, endpoints)
  }
  return { ports, endpoints }
}

function familyPlan(env: Envelope, ix: Indexed, family: Family, warn: (w: PlanWarning) => void): { fp: FamilyPlan; input: FamilyInput } {
  const input = familyInput(ix, family, env.proxy.nodeName, warn)
  const lists = input.ports.map((sp) => sortedEndpoints(input.endpoints.get(epKey(sp.serviceKey, sp.portName, sp.protocol))))
  // Large-cluster mode counts every endpoint of every service port, usable or not.
  let total = 0
  for (const l of lists) total += l.length
  const ctx = familyContext(env.proxy, family, total > LARGE_CLUSTER_ENDPOINTS)
  const segments: Segment[] = [headSegment(ctx)]
  for (let i = 0; i < input.ports.length; i++) segments.push(serviceSegment(input.ports[i]!, lists[i]!, ctx))
  segments.push(tailSegment(ctx))
  return { fp: { family, segments }, input }
}

export function plan(envelope: Envelope): Plan {
  const warnings: PlanWarning[] = []
  const seen = new Set<string>()
  // Both families parse the same objects: report each problem once.
  const warn = (w: PlanWarning): void => {
    const k = `${w.code}\0${w.pointer ?? ''}\0${w.message}`
    if (!seen.has(k)) {
      seen.add(k)
      warnings.push(w)
    }
  }
  const ix = index(envelope)
  const families: FamilyPlan[] = []
  const servicesSeen = new Set<string>()
  let servicePorts = 0
  let endpoints = 0
  for (const family of nodeFamilies(envelope.proxy)) {
    const { fp, input } = familyPlan(envelope, ix, family, warn)
    families.push(fp)
    servicePorts += input.ports.length
    for (const p of input.ports) servicesSeen.add(p.serviceKey)
    for (const m of input.endpoints.values()) endpoints += m.size
  }
  for (const [kind, at] of ix.ignoredKinds) {
    warnings.push({ code: 'unknown-kind', message: `objects of kind ${kind} are not read by kube-proxy and were ignored`, pointer: at })
  }
  return {
    families,
    warnings,
    counts: { services: servicesSeen.size, servicePorts, endpoints, ignoredObjects: ix.ignored },
  }
}
