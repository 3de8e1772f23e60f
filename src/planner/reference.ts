/**
 * The reference planner: kube-proxy's restore input written the plain way, as
 * pkg/proxy/iptables/proxier.go syncProxyRules writes it — four line buffers, each rule a list
 * of words joined by spaces (pkg/proxy/util/linebuffer.go), one small function per rule family.
 * No speed tricks: strings, maps and node:crypto.
 *
 * It is the specification the fast planner (./plan.ts, ./rules/) is held to: a property test
 * over generated snapshots requires the two to agree byte for byte
 * (test/planner/reference.test.ts). A change of behaviour lands here first.
 *
 * What it shares with the fast planner is the input model (service ports, ./model.ts
 * servicePortsOf), endpoint selection (./topology.ts, a paraphrase of CategorizeEndpoints) and
 * the per-family settings (./context.ts); endpoints, chain names and every line are its own.
 */
import { hash as nodeHash } from 'node:crypto'
import { base32nopad } from '@scure/base'
import type { Envelope } from './kube/envelope.js'
import { resolveNodes } from './kube/settings.js'
import type { EndpointSliceObject, EndpointsObject, ServiceObject } from './kube/schemas.js'
import { cidrContains, parseIPSloppy } from './kube/ip.js'
import { familyContext, nodeFamilies, type FamilyContext } from './context.js'
import { servicePortsOf, type Endpoint, type ServicePort } from './model.js'
import { categorize, externallyAccessible, usesClusterEndpoints, usesLocalEndpoints } from './topology.js'
import { probability } from './iptables/probability.js'
import type { Family } from './types.js'

/** kube-proxy's largeClusterEndpointsThreshold. */
const LARGE_CLUSTER_ENDPOINTS = 1000

/** pkg/proxy/util/linebuffer.go: a line is its words joined by single spaces. */
type Words = string | readonly Words[]

class LineBuffer {
  private lines: string[] = []
  write(...words: Words[]): void {
    const out: string[] = []
    const walk = (w: Words): void => {
      if (typeof w === 'string') out.push(w)
      else for (const x of w) walk(x)
    }
    words.forEach(walk)
    this.lines.push(out.join(' '))
  }
  text(): string {
    return this.lines.map((l) => l + '\n').join('')
  }
}

interface Buffers {
  filterChains: LineBuffer
  filterRules: LineBuffer
  natChains: LineBuffer
  natRules: LineBuffer
}

const chainLine = (name: string): string => `:${name} - [0:0]`

/** servicePortChainName / servicePortEndpointChainName: base32(sha256(...))[:16]. */
function hash16(s: string): string {
  return base32nopad.encode(nodeHash('sha256', s, 'buffer').subarray(0, 10))
}

/** An endpoint as endpointslicecache.go keeps it, with its `ip:port` identity. */
interface RefEndpoint extends Endpoint {
  id: string
}

function identity(ip: string, port: number, family: Family): string {
  return family === 'IPv6' ? `[${ip}]:${port}` : `${ip}:${port}`
}

function endpointKey(service: string, port: string, protocol: string): string {
  return `${service}\0${port}\0${protocol}`
}

/** Later endpoints replace earlier ones with the same identity unless they are terminating. */
function add(map: Map<string, Map<string, RefEndpoint>>, key: string, ep: RefEndpoint): void {
  let m = map.get(key)
  if (!m) map.set(key, (m = new Map()))
  if (m.has(ep.id) && ep.terminating) return
  m.set(ep.id, ep)
}

/** Every EndpointSlice of the family, by service port (endpointslicecache.go). */
function sliceEndpoints(items: readonly Record<string, unknown>[], family: Family): Map<string, Map<string, RefEndpoint>> {
  const out = new Map<string, Map<string, RefEndpoint>>()
  for (const o of items) {
    if (o.kind !== 'EndpointSlice') continue
    const slice = o as unknown as EndpointSliceObject
    const svc = slice.metadata.labels?.['kubernetes.io/service-name']
    if (slice.addressType !== family || !svc) continue
    const service = `${slice.metadata.namespace ?? 'default'}/${svc}`
    for (const p of slice.ports ?? []) {
      if (p.name === null || p.name === undefined || !p.port) continue
      const key = endpointKey(service, p.name, (p.protocol ?? 'TCP').toLowerCase())
      for (const e of slice.endpoints ?? []) {
        const addr = e.addresses?.[0]
        const ip = addr === undefined ? null : parseIPSloppy(addr)
        if (!ip || ip.family !== family) continue
        const c = e.conditions
        add(out, key, {
          id: identity(ip.text, p.port, family),
          ...splitId(ip.text, p.port, family),
          ready: c?.ready !== false,
          serving: c?.serving !== false,
          terminating: c?.terminating === true,
          nodeName: e.nodeName ?? '',
          zoneHints: e.hints?.forZones?.length ? e.hints.forZones.map((z) => z.name) : null,
          nodeHints: e.hints?.forNodes?.length ? e.hints.forNodes.map((z) => z.name) : null,
          sep: -1,
        })
      }
    }
  }
  return out
}

function splitId(ip: string, port: number, family: Family): { ip: string; pre: string; post: string } {
  return family === 'IPv6' ? { ip, pre: '[', post: `]:${port}` } : { ip, pre: '', post: `:${port}` }
}

/** natplan's compatibility path: v1 Endpoints, only for a Service that has no EndpointSlice at all. */
function legacyEndpoints(items: readonly Record<string, unknown>[], family: Family, out: Map<string, Map<string, RefEndpoint>>): void {
  const sliced = new Set<string>()
  for (const o of items) {
    if (o.kind !== 'EndpointSlice') continue
    const s = o as unknown as EndpointSliceObject
    const svc = s.metadata.labels?.['kubernetes.io/service-name']
    if (svc) sliced.add(`${s.metadata.namespace ?? 'default'}/${svc}`)
  }
  const services = new Set(
    items
      .filter((o) => o.kind === 'Service')
      .map((o) => {
        const s = o as unknown as ServiceObject
        return `${s.metadata.namespace ?? 'default'}/${s.metadata.name}`
      }),
  )
  for (const o of items) {
    if (o.kind !== 'Endpoints') continue
    const obj = o as unknown as EndpointsObject
    const service = `${obj.metadata.namespace ?? 'default'}/${obj.metadata.name}`
    if (sliced.has(service) || !services.has(service)) continue
    for (const subset of obj.subsets ?? []) {
      const addrs = [...(subset.addresses ?? []).map((a) => ({ a, ready: true })), ...(subset.notReadyAddresses ?? []).map((a) => ({ a, ready: false }))]
      for (const p of subset.ports ?? []) {
        const key = endpointKey(service, p.name ?? '', (p.protocol ?? 'TCP').toLowerCase())
        for (const { a, ready } of addrs) {
          const ip = parseIPSloppy(a.ip)
          if (!ip || ip.family !== family) continue
          add(out, key, {
            id: identity(ip.text, p.port, family),
            ...splitId(ip.text, p.port, family),
            ready,
            serving: ready,
            terminating: false,
            nodeName: a.nodeName ?? '',
            zoneHints: null,
            nodeHints: null,
            sep: -1,
          })
        }
      }
    }
  }
}

/** The family's service ports in plan order (by name, then protocol; a repeated one: the later wins). */
function servicePorts(items: readonly Record<string, unknown>[], family: Family, ipMode: boolean): ServicePort[] {
  const byKey = new Map<string, ServicePort>()
  items.forEach((o, i) => {
    if (o.kind !== 'Service') return
    for (const sp of servicePortsOf(o as unknown as ServiceObject, family, i, () => {}, ipMode)) byKey.set(`${sp.name}\0${sp.protocol}`, sp)
  })
  return [...byKey.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0))
}

function byId(a: RefEndpoint, b: RefEndpoint): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

/** Fixed chains and the KUBE-POSTROUTING, KUBE-MARK-MASQ and KUBE-FIREWALL rules. */
function writeHead(b: Buffers, ctx: FamilyContext): void {
  for (const c of ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-FORWARD', 'KUBE-NODEPORTS', 'KUBE-PROXY-FIREWALL']) b.filterChains.write(chainLine(c))
  for (const c of ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ']) b.natChains.write(chainLine(c))
  const m = ctx.mark
  b.natRules.write('-A', 'KUBE-POSTROUTING', '-m', 'mark', '!', '--mark', `${m}/${m}`, '-j', 'RETURN')
  b.natRules.write('-A', 'KUBE-POSTROUTING', '-j', 'MARK', '--xor-mark', m)
  b.natRules.write(
    '-A',
    'KUBE-POSTROUTING',
    '-m',
    'comment',
    '--comment',
    '"kubernetes service traffic requiring SNAT"',
    '-j',
    'MASQUERADE',
    ctx.randomFully ? ['--random-fully'] : [],
  )
  b.natRules.write('-A', 'KUBE-MARK-MASQ', '-j', 'MARK', '--or-mark', m)
  if (ctx.localhostNodePorts) {
    b.filterChains.write(chainLine('KUBE-FIREWALL'))
    b.filterRules.write(
      '-A',
      'KUBE-FIREWALL',
      '-m',
      'comment',
      '--comment',
      '"block incoming localnet connections"',
      '-d',
      '127.0.0.0/8',
      '!',
      '-s',
      '127.0.0.0/8',
      '-m',
      'conntrack',
      '!',
      '--ctstate',
      'RELATED,ESTABLISHED,DNAT',
      '-j',
      'DROP',
    )
  }
}

/**
 * syncProxyRules' "Delete chains no longer in use": every existing chain with a service-chain
 * prefix (isServiceChainName) that no chain line of this sync declared gets a chain line (which
 * flushes it) and `-X` (which deletes it), after the service rules. natplan writes them in byte
 * order where kube-proxy walks a set in map order.
 */
function writeStaleChains(b: Buffers, existing: readonly string[]): void {
  const active = new Set(
    b.natChains
      .text()
      .split('\n')
      .filter((l) => l.startsWith(':'))
      .map((l) => l.slice(1).split(' ')[0]!),
  )
  const prefixes = ['KUBE-SVC-', 'KUBE-SVL-', 'KUBE-EXT-', 'KUBE-FW-', 'KUBE-SEP-']
  const stale = [...new Set(existing)].filter((c) => prefixes.some((p) => c.startsWith(p)) && !active.has(c)).sort()
  for (const c of stale) {
    b.natChains.write(chainLine(c))
    b.natRules.write('-X', c)
  }
}

/** The KUBE-SERVICES -> KUBE-NODEPORTS jump (it must stay last) and KUBE-FORWARD. */
function writeTail(b: Buffers, ctx: FamilyContext): void {
  const comment = ['-m', 'comment', '--comment', '"kubernetes service nodeports; NOTE: this must be the last rule in this chain"']
  if (ctx.nodePortMatchAll) {
    const dest = ['-m', 'addrtype', '--dst-type', 'LOCAL']
    if (ctx.family === 'IPv6') dest.push('!', '-d', '::1/128')
    else if (!ctx.localhostNodePorts) dest.push('!', '-d', '127.0.0.0/8')
    b.natRules.write('-A', 'KUBE-SERVICES', comment, dest, '-j', 'KUBE-NODEPORTS')
  } else {
    for (const ip of ctx.nodePortIPs) b.natRules.write('-A', 'KUBE-SERVICES', comment, '-d', ip, '-j', 'KUBE-NODEPORTS')
  }
  if (!ctx.tcpBeLiberal)
    b.filterRules.write(
      '-A',
      'KUBE-FORWARD',
      '-m',
      'conntrack',
      '--ctstate',
      'INVALID',
      ctx.nfacctInvalid ? ['-m', 'nfacct', '--nfacct-name', 'ct_state_invalid_dropped_pkts'] : [],
      '-j',
      'DROP',
    )
  b.filterRules.write(
    '-A',
    'KUBE-FORWARD',
    '-m',
    'comment',
    '--comment',
    '"kubernetes forwarding rules"',
    '-m',
    'mark',
    '--mark',
    `${ctx.mark}/${ctx.mark}`,
    '-j',
    'ACCEPT',
  )
  b.filterRules.write(
    '-A',
    'KUBE-FORWARD',
    '-m',
    'comment',
    '--comment',
    '"kubernetes forwarding conntrack rule"',
    '-m',
    'conntrack',
    '--ctstate',
    'RELATED,ESTABLISHED',
    '-j',
    'ACCEPT',
  )
}

/** One service port: the body of syncProxyRules' loop over svcPortMap. */
function writeServicePort(b: Buffers, ctx: FamilyContext, sp: ServicePort, endpoints: RefEndpoint[]): void {
  const protocol = sp.protocol
  const name = sp.name
  const hash = hash16(name + protocol)
  const sepChain = (e: RefEndpoint): string => `KUBE-SEP-${hash16(name + protocol + e.id)}`
  const cat = categorize(sp, endpoints, ctx.nodeName, ctx.zone, ctx)
  const clusterEndpoints = cat.clusterEndpoints as RefEndpoint[]
  const localEndpoints = cat.localEndpoints as RefEndpoint[]
  const { hasEndpoints } = cat
  const clusterPolicyChain = `KUBE-SVC-${hash}`
  const localPolicyChain = `KUBE-SVL-${hash}`
  const usesClusterPolicyChain = clusterEndpoints.length > 0 && usesClusterEndpoints(sp)
  const usesLocalPolicyChain = localEndpoints.length > 0 && usesLocalEndpoints(sp)
  let internalChain = clusterPolicyChain
  let hasInternal = hasEndpoints
  if (sp.internalPolicyLocal) {
    internalChain = localPolicyChain
    if (localEndpoints.length === 0) hasInternal = false
  }
  let externalPolicyChain = clusterPolicyChain
  let hasExternal = hasEndpoints
  if (sp.externalPolicyLocal) {
    externalPolicyChain = localPolicyChain
    if (localEndpoints.length === 0) hasExternal = false
  }
  const externalChain = `KUBE-EXT-${hash}`
  const usesExternalChain = hasEndpoints && externallyAccessible(sp)
  const fwChain = `KUBE-FW-${hash}`
  const usesFWChain = hasEndpoints && sp.lbVIPs.length > 0 && sp.sourceRanges.length > 0
  const lbChain = usesFWChain ? fwChain : externalChain
  const verdict = hasEndpoints ? 'DROP' : 'REJECT'
  const noEndpoints = hasEndpoints ? `"${name} has no local endpoints"` : `"${name} has no endpoints"`
  const proto = ['-m', protocol, '-p', protocol]
  const port = String(sp.port)

  // Capture the cluster IP.
  const clusterIPMatch = ['-m', 'comment', '--comment', `"${name} cluster IP"`, proto, '-d', sp.clusterIP, '--dport', port]
  if (hasInternal) b.natRules.write('-A', 'KUBE-SERVICES', clusterIPMatch, '-j', internalChain)
  else b.filterRules.write('-A', 'KUBE-SERVICES', '-m', 'comment', '--comment', noEndpoints, proto, '-d', sp.clusterIP, '--dport', port, '-j', verdict)

  // Capture external IPs.
  for (const ip of sp.externalIPs) {
    if (hasEndpoints)
      b.natRules.write('-A', 'KUBE-SERVICES', '-m', 'comment', '--comment', `"${name} external IP"`, proto, '-d', ip, '--dport', port, '-j', externalChain)
    if (!hasExternal)
      b.filterRules.write('-A', 'KUBE-EXTERNAL-SERVICES', '-m', 'comment', '--comment', noEndpoints, proto, '-d', ip, '--dport', port, '-j', verdict)
  }

  // Capture load-balancer ingress.
  for (const ip of sp.lbVIPs) {
    if (hasEndpoints)
      b.natRules.write('-A', 'KUBE-SERVICES', '-m', 'comment', '--comment', `"${name} loadbalancer IP"`, proto, '-d', ip, '--dport', port, '-j', lbChain)
    if (usesFWChain)
      b.filterRules.write(
        '-A',
        'KUBE-PROXY-FIREWALL',
        '-m',
        'comment',
        '--comment',
        `"${name} traffic not accepted by ${fwChain}"`,
        proto,
        '-d',
        ip,
        '--dport',
        port,
        '-j',
        'DROP',
      )
  }
  if (!hasExternal)
    for (const ip of sp.lbVIPs)
      b.filterRules.write('-A', 'KUBE-EXTERNAL-SERVICES', '-m', 'comment', '--comment', noEndpoints, proto, '-d', ip, '--dport', port, '-j', verdict)

  // Capture node ports.
  if (sp.nodePort !== 0) {
    const nodePort = String(sp.nodePort)
    if (hasEndpoints) {
      if (ctx.localhostNodePorts && ctx.nfacctLocalhost) {
        b.natRules.write(
          '-A',
          'KUBE-NODEPORTS',
          '-m',
          'comment',
          '--comment',
          name,
          proto,
          '-d',
          '127.0.0.0/8',
          '--dport',
          nodePort,
          '-m',
          'nfacct',
          '--nfacct-name',
          'localhost_nps_accepted_pkts',
          '-j',
          externalChain,
        )
      }
      b.natRules.write('-A', 'KUBE-NODEPORTS', '-m', 'comment', '--comment', name, proto, '--dport', nodePort, '-j', externalChain)
    }
    if (!hasExternal)
      b.filterRules.write(
        '-A',
        'KUBE-EXTERNAL-SERVICES',
        '-m',
        'comment',
        '--comment',
        noEndpoints,
        '-m',
        'addrtype',
        '--dst-type',
        'LOCAL',
        proto,
        '--dport',
        nodePort,
        '-j',
        verdict,
      )
  }

  // Capture the health check node port.
  if (sp.healthCheckNodePort !== 0) {
    b.filterRules.write(
      '-A',
      'KUBE-NODEPORTS',
      '-m',
      'comment',
      '--comment',
      `"${name} health check node port"`,
      '-m',
      'tcp',
      '-p',
      'tcp',
      '--dport',
      String(sp.healthCheckNodePort),
      '-j',
      'ACCEPT',
    )
  }

  // Internal traffic: masquerade what does not come from a local pod.
  if (hasInternal) {
    if (ctx.masqueradeAll) b.natRules.write('-A', internalChain, clusterIPMatch, '-j', 'KUBE-MARK-MASQ')
    else if (ctx.localCIDR !== null) b.natRules.write('-A', internalChain, clusterIPMatch, '!', ctx.localFlag, ctx.localCIDR, '-j', 'KUBE-MARK-MASQ')
  }

  // External traffic: one chain every external destination jumps to.
  if (usesExternalChain) {
    b.natChains.write(chainLine(externalChain))
    if (!sp.externalPolicyLocal) {
      b.natRules.write('-A', externalChain, '-m', 'comment', '--comment', `"masquerade traffic for ${name} external destinations"`, '-j', 'KUBE-MARK-MASQ')
    } else {
      if (ctx.localCIDR !== null) {
        b.natRules.write(
          '-A',
          externalChain,
          '-m',
          'comment',
          '--comment',
          `"pod traffic for ${name} external destinations"`,
          ctx.localFlag,
          ctx.localCIDR,
          '-j',
          clusterPolicyChain,
        )
      }
      b.natRules.write(
        '-A',
        externalChain,
        '-m',
        'comment',
        '--comment',
        `"masquerade LOCAL traffic for ${name} external destinations"`,
        '-m',
        'addrtype',
        '--src-type',
        'LOCAL',
        '-j',
        'KUBE-MARK-MASQ',
      )
      b.natRules.write(
        '-A',
        externalChain,
        '-m',
        'comment',
        '--comment',
        `"route LOCAL traffic for ${name} external destinations"`,
        '-m',
        'addrtype',
        '--src-type',
        'LOCAL',
        '-j',
        clusterPolicyChain,
      )
    }
    if (hasExternal) b.natRules.write('-A', externalChain, '-j', externalPolicyChain)
  }

  // The firewall chain of loadBalancerSourceRanges.
  if (usesFWChain) {
    b.natChains.write(chainLine(fwChain))
    const head = ['-A', fwChain, '-m', 'comment', '--comment', `"${name} loadbalancer IP"`]
    let allowFromNode = false
    for (const r of sp.sourceRanges) {
      b.natRules.write(head, '-s', r.text, '-j', externalChain)
      if (ctx.primaryIP && cidrContains(r, ctx.primaryIP)) allowFromNode = true
    }
    if (allowFromNode) for (const ip of sp.lbVIPs) b.natRules.write(head, '-s', ip, '-j', externalChain)
    b.natRules.write('-A', fwChain, '-m', 'comment', '--comment', `"other traffic to ${name} will be dropped by KUBE-PROXY-FIREWALL"`)
  }

  if (usesClusterPolicyChain) {
    b.natChains.write(chainLine(clusterPolicyChain))
    writeServiceToEndpointRules(b, ctx, sp, clusterPolicyChain, clusterEndpoints, sepChain)
  }
  if (usesLocalPolicyChain) {
    b.natChains.write(chainLine(localPolicyChain))
    writeServiceToEndpointRules(b, ctx, sp, localPolicyChain, localEndpoints, sepChain)
  }

  // The endpoint chains.
  for (const e of cat.allReachable as RefEndpoint[]) {
    const chain = sepChain(e)
    b.natChains.write(chainLine(chain))
    const args = ['-A', chain, ctx.comments ? ['-m', 'comment', '--comment', name] : []]
    b.natRules.write(args, '-s', e.ip, '-j', 'KUBE-MARK-MASQ')
    const affinity = sp.stickySeconds > 0 ? ['-m', 'recent', '--name', chain, '--set'] : []
    b.natRules.write(args, affinity, proto, '-j', 'DNAT', '--to-destination', e.id)
  }
}

/** writeServiceToEndpointRules: the affinity checks, then the random split. */
function writeServiceToEndpointRules(
  b: Buffers,
  ctx: FamilyContext,
  sp: ServicePort,
  chain: string,
  endpoints: RefEndpoint[],
  sepChain: (e: RefEndpoint) => string,
): void {
  const comment = (e: RefEndpoint): string[] => (ctx.comments ? ['-m', 'comment', '--comment', `"${sp.name} -> ${e.id}"`] : [])
  if (sp.stickySeconds > 0) {
    for (const e of endpoints) {
      b.natRules.write(
        '-A',
        chain,
        comment(e),
        '-m',
        'recent',
        '--name',
        sepChain(e),
        '--rcheck',
        '--seconds',
        String(sp.stickySeconds),
        '--reap',
        '-j',
        sepChain(e),
      )
    }
  }
  const n = endpoints.length
  endpoints.forEach((e, i) => {
    const split = i < n - 1 ? ['-m', 'statistic', '--mode', 'random', '--probability', probability(n - i)] : []
    b.natRules.write('-A', chain, comment(e), split, '-j', sepChain(e))
  })
}

/**
 * The restore input kube-proxy writes for each family of one node of the envelope (default:
 * the one its settings name, or its only one), in plan order.
 */
export function referenceRestore(envelope: Envelope, node?: string): Array<{ family: Family; text: string }> {
  const items = envelope.resources.items as Record<string, unknown>[]
  const resolved = resolveNodes(envelope)
  const name = node ?? resolved.defaultNode
  const cfg = resolved.nodes.find((n) => n.nodeName === name)
  if (!cfg) throw new Error(`no node ${String(name)} in the envelope`)
  return nodeFamilies(cfg).map((family) => {
    const endpoints = sliceEndpoints(items, family)
    legacyEndpoints(items, family, endpoints)
    let total = 0
    for (const m of endpoints.values()) total += m.size
    const ctx = familyContext(cfg, family, total > LARGE_CLUSTER_ENDPOINTS)
    const b: Buffers = { filterChains: new LineBuffer(), filterRules: new LineBuffer(), natChains: new LineBuffer(), natRules: new LineBuffer() }
    writeHead(b, ctx)
    for (const sp of servicePorts(items, family, cfg.gates.LoadBalancerIPMode)) {
      const eps = [...(endpoints.get(endpointKey(sp.serviceKey, sp.portName, sp.protocol))?.values() ?? [])].sort(byId)
      writeServicePort(b, ctx, sp, eps)
    }
    writeStaleChains(b, cfg.existingChains?.[family] ?? [])
    writeTail(b, ctx)
    const text = `*filter\n${b.filterChains.text()}${b.filterRules.text()}COMMIT\n*nat\n${b.natChains.text()}${b.natRules.text()}COMMIT\n`
    return { family, text }
  })
}
