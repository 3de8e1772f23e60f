/**
 * Test-only packet tracer in the manner of upstream's tracePacket (pkg/proxy/iptables/
 * proxier_test.go): walk nat KUBE-SERVICES following jumps (KUBE-MARK-MASQ marks and continues,
 * DNAT records and terminates, a `--probability` jump never terminates the caller so every
 * endpoint of a random split is collected, rules testing state — `--rcheck`, `--mark`,
 * `--ctstate` — never match); then, with the destination rewritten to the first DNAT target,
 * walk filter KUBE-SERVICES, KUBE-EXTERNAL-SERVICES, KUBE-NODEPORTS, KUBE-PROXY-FIREWALL, where
 * ACCEPT/DROP/REJECT are recorded. Reads the rendered restore text, not planner internals.
 */
import ipaddr from 'ipaddr.js'
import { planTables, type FamilyPlan, type Plan } from '../../src/planner/index.js'

export interface FlowCase {
  name: string
  source: string
  destination: string
  port: number
  protocol: 'tcp' | 'udp' | 'sctp'
  /** Comma-separated outputs, e.g. `10.180.0.1:80, 10.180.2.1:80`, `DROP`, `REJECT`, or `` (nothing matched). */
  output: string
  masq: boolean
}

interface Rule {
  text: string
  src?: { cidr: [ipaddr.IPv4 | ipaddr.IPv6, number]; neg: boolean }
  dst?: { cidr: [ipaddr.IPv4 | ipaddr.IPv6, number]; neg: boolean }
  proto?: string
  dport?: number
  srcLocal?: boolean
  dstLocal?: boolean
  probability?: string
  stateCheck: boolean
  jump?: string
  dnat?: string
}

export function tokenize(line: string): string[] {
  const out: string[] = []
  const re = /"([^"]*)"|(\S+)/g
  for (let m = re.exec(line); m; m = re.exec(line)) out.push(m[1] ?? m[2]!)
  return out
}

function cidrOf(s: string): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  if (s.includes('/')) return ipaddr.parseCIDR(s)
  const a = ipaddr.parse(s)
  return [a, a.kind() === 'ipv4' ? 32 : 128]
}

export function parseRule(text: string): Rule {
  const t = tokenize(text)
  const r: Rule = { text, stateCheck: false }
  for (let i = 2; i < t.length; i++) {
    let neg = false
    if (t[i] === '!') {
      neg = true
      i++
    }
    const flag = t[i]!
    const v = t[i + 1]
    switch (flag) {
      case '-s':
        r.src = { cidr: cidrOf(v!), neg }
        i++
        break
      case '-d':
        r.dst = { cidr: cidrOf(v!), neg }
        i++
        break
      case '-p':
        r.proto = v
        i++
        break
      case '--dport':
        r.dport = Number(v)
        i++
        break
      case '--src-type':
        r.srcLocal = true
        i++
        break
      case '--dst-type':
        r.dstLocal = true
        i++
        break
      case '--probability':
        r.probability = v
        i++
        break
      case '--rcheck':
      case '--mark':
      case '--ctstate':
        r.stateCheck = true
        if (flag !== '--rcheck') i++
        break
      case '-j':
        r.jump = v
        i++
        break
      case '--to-destination':
        r.dnat = v
        i++
        break
      case '-m':
      case '--comment':
      case '--name':
      case '--seconds':
      case '--nfacct-name':
      case '--mode':
      case '--or-mark':
      case '--xor-mark':
        i++
        break
      case '--reap':
      case '--set':
      case '--random-fully':
        break
      default:
        throw new Error(`trace-helper: unknown option ${flag} in: ${text}`)
    }
  }
  return r
}

function inCidr(ip: string, c: [ipaddr.IPv4 | ipaddr.IPv6, number]): boolean {
  const a = ipaddr.parse(ip)
  return a.kind() === c[0].kind() && a.match(c)
}

class Tracer {
  outputs: string[] = []
  masq = false
  constructor(
    private chains: Map<string, Rule[]>,
    private local: Set<string>,
  ) {}

  private matches(r: Rule, src: string, proto: string, dst: string, port: number): boolean {
    if (r.stateCheck) return false
    if (r.src && inCidr(src, r.src.cidr) === r.src.neg) return false
    if (r.dst && inCidr(dst, r.dst.cidr) === r.dst.neg) return false
    if (r.proto && r.proto !== proto) return false
    if (r.dport !== undefined && r.dport !== port) return false
    if (r.srcLocal && !this.local.has(ipaddr.parse(src).toString())) return false
    if (r.dstLocal && !this.local.has(ipaddr.parse(dst).toString())) return false
    return true
  }

  /** true when a terminal target was reached */
  run(chain: string, src: string, proto: string, dst: string, port: number, depth = 0): boolean {
    if (depth > 50) throw new Error('trace-helper: jump loop')
    for (const r of this.chains.get(chain) ?? []) {
      if (!this.matches(r, src, proto, dst, port) || r.jump === undefined) continue
      if (r.jump === 'KUBE-MARK-MASQ') this.masq = true
      else if (r.jump === 'ACCEPT' || r.jump === 'DROP' || r.jump === 'REJECT') {
        this.outputs.push(r.jump)
        return true
      } else if (r.jump === 'DNAT') {
        this.outputs.push(r.dnat!)
        return true
      } else {
        if (!this.chains.has(r.jump)) throw new Error(`trace-helper: jump to undeclared chain ${r.jump}`)
        const terminated = this.run(r.jump, src, proto, dst, port, depth + 1)
        if (terminated && r.probability === undefined) return true
      }
    }
    return false
  }
}

function tableChains(fp: FamilyPlan, table: 'nat' | 'filter'): Map<string, Rule[]> {
  const view = planTables(fp).find((t) => t.table === table)!
  return new Map(view.chains.map((c) => [c.name, c.rules.map((r) => parseRule(`-A ${c.name} ${r}`))]))
}

function hostOf(dnat: string): string {
  return dnat.startsWith('[') ? dnat.slice(1, dnat.indexOf(']')) : dnat.slice(0, dnat.lastIndexOf(':'))
}

export function tracePacket(fp: FamilyPlan, flow: Omit<FlowCase, 'output' | 'masq' | 'name'>, localIPs: string[]): { output: string; masq: boolean } {
  const local = new Set(localIPs.map((s) => ipaddr.parse(s).toString()))
  const tr = new Tracer(tableChains(fp, 'nat'), local)
  tr.run('KUBE-SERVICES', flow.source, flow.protocol, flow.destination, flow.port)
  const dst = tr.outputs.length > 0 ? hostOf(tr.outputs[0]!) : flow.destination
  const ft = new Tracer(tableChains(fp, 'filter'), local)
  for (const c of ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-NODEPORTS', 'KUBE-PROXY-FIREWALL']) {
    ft.run(c, flow.source, flow.protocol, dst, flow.port)
  }
  return { output: [...tr.outputs, ...ft.outputs].join(', '), masq: tr.masq }
}

/** Returns one message per failing flow (empty = all good). */
export function checkFlows(p: Plan, flows: FlowCase[], localIPs: string[]): string[] {
  const failures: string[] = []
  for (const f of flows) {
    const fam = f.destination.includes(':') ? 'IPv6' : 'IPv4'
    const fp = p.families.find((x) => x.family === fam)
    if (!fp) {
      failures.push(`${f.name}: no ${fam} plan`)
      continue
    }
    const got = tracePacket(fp, f, localIPs)
    if (got.output !== f.output || got.masq !== f.masq) {
      failures.push(`${f.name}: got ${JSON.stringify(got)}, want ${JSON.stringify({ output: f.output, masq: f.masq })}`)
    }
  }
  return failures
}
