/**
 * Our tracer against the hand-written `flows.json` of the natplan conformance cases (written from
 * the reference's semantics, independently of both the planner and this tracer), over the
 * planner's plan of each case's snapshot. Node addresses are the snapshot's proxy.nodeIPs.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import ipaddr from 'ipaddr.js'
import { describe, expect, it } from 'vitest'
import { nodeConfig, plan, toEnvelope, type Protocol } from '../../src/planner/index.js'
import { trace } from '../../src/planner/analysis/index.js'
import { CONFORMANCE } from './fixtures.js'

interface Flow {
  name: string
  source: string
  destination: string
  port: number
  protocol: Protocol
  output: string
  masq: boolean
}

const cases = readdirSync(CONFORMANCE).filter((d) => existsSync(join(CONFORMANCE, d, 'flows.json')))

describe.each(cases)('%s', (name) => {
  const r = toEnvelope(JSON.parse(readFileSync(join(CONFORMANCE, name, 'snapshot.json'), 'utf8')))
  if (!r.ok) throw new Error(JSON.stringify(r.issues))
  const p = plan(r.envelope)
  const flows = JSON.parse(readFileSync(join(CONFORMANCE, name, 'flows.json'), 'utf8')) as Flow[]
  it.each(flows)('$name', (f) => {
    const family = ipaddr.parse(f.destination).kind() === 'ipv6' ? 'IPv6' : 'IPv4'
    const fp = p.families.find((x) => x.family === family)!
    const t = trace(fp, f, nodeConfig(r.envelope)!.nodeIPs)
    expect(t.output).toBe(f.output)
    expect(t.masqueraded).toBe(f.masq)
  })
})
