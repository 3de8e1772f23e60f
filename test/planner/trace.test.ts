/**
 * The test tracer itself, checked against upstream's own packet-flow assertions for
 * TestNodePorts "ipv4, localhost-nodeports enabled" (table in that case's notes.md), so that
 * flows.json checks of natplan's cases rest on a tracer that reproduces upstream's verdicts.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { nodeConfig, plan, toEnvelope } from '../../src/planner/index.js'
import { checkFlows, type FlowCase } from './trace-helper.js'

const dir = join(import.meta.dirname, '../fixtures/conformance/TestNodePorts__ipv4_localhost-nodeports_enabled')
const both = '10.180.0.1:80, 10.180.2.1:80'
const upstreamFlows: FlowCase[] = [
  { name: 'pod to cluster IP', source: '10.0.0.2', destination: '172.30.0.41', port: 80, protocol: 'tcp', output: both, masq: false },
  { name: 'external to nodePort', source: '203.0.113.2', destination: '192.168.0.2', port: 3001, protocol: 'tcp', output: both, masq: true },
  { name: 'node to nodePort', source: '192.168.0.2', destination: '192.168.0.2', port: 3001, protocol: 'tcp', output: both, masq: true },
  { name: 'localhost to nodePort gets masqueraded', source: '127.0.0.1', destination: '127.0.0.1', port: 3001, protocol: 'tcp', output: both, masq: true },
  { name: 'external to nodePort on secondary IP', source: '203.0.113.2', destination: '192.168.1.2', port: 3001, protocol: 'tcp', output: both, masq: true },
]

describe('trace-helper', () => {
  const r = toEnvelope(JSON.parse(readFileSync(join(dir, 'snapshot.json'), 'utf8')))
  if (!r.ok) throw new Error('snapshot rejected')
  const local = [...nodeConfig(r.envelope)!.nodeIPs, '127.0.0.1', '::1']

  it('reproduces upstream TestNodePorts flow verdicts', () => {
    expect(checkFlows(plan(r.envelope), upstreamFlows, local)).toEqual([])
  })

  it('can fail: a wrong expectation is reported', () => {
    const wrong = { ...upstreamFlows[0]!, masq: true }
    expect(checkFlows(plan(r.envelope), [wrong], local)).toHaveLength(1)
  })
})
