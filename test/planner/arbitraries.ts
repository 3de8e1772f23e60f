/**
 * Shared fast-check material for planner property tests: envelopes from generated snapshots of
 * every service shape and the proxy settings that change segment text.
 */
import fc from 'fast-check'
import { EnvelopeSchema, toEnvelope, type Envelope } from '../../src/planner/index.js'
import type { GenerateOptions } from '../../src/planner/testing/generate.js'

export function envelopeOf(doc: unknown): Envelope {
  const r = toEnvelope(doc)
  if (!r.ok) throw new Error(JSON.stringify(r.issues))
  return r.envelope
}

/**
 * An envelope whose objects skip the API server's validation (the envelope's shape and the proxy
 * settings are still checked): for tests of what the planner itself tolerates, as kube-proxy
 * does, when a library caller hands it objects no API server checked.
 */
export function unvalidatedEnvelope(doc: unknown): Envelope {
  return EnvelopeSchema.parse(doc)
}

const fraction = fc.constantFrom(0, 0.1, 0.5, 1)

/** generateSnapshot options: size, seed, churn round, type mix, and proxy settings. */
export const snapshotOptions = fc.record({
  services: fc.integer({ min: 0, max: 40 }),
  endpointsPerService: fc.integer({ min: 0, max: 40 }),
  seed: fc.integer({ min: 1, max: 9 }),
  round: fc.integer({ min: 0, max: 3 }),
  churn: fc.constantFrom(0, 0.05, 0.3),
  nodePort: fraction,
  loadBalancer: fraction,
  sourceRanges: fraction,
  clientIPAffinity: fraction,
  externalLocal: fraction,
  internalLocal: fraction,
  externalIPs: fraction,
  notReady: fraction,
  portsPerService: fc.integer({ min: 1, max: 3 }),
  proxy: fc.record(
    {
      masqueradeAll: fc.boolean(),
      localDetector: fc.constantFrom('ClusterCIDR' as const, 'None' as const),
      localhostNodePorts: fc.boolean(),
      nfacct: fc.oneof(
        fc.boolean(),
        fc.record({ ct_state_invalid_dropped_pkts: fc.boolean(), localhost_nps_accepted_pkts: fc.boolean() }, { requiredKeys: [] }),
      ),
      conntrackTCPBeLiberal: fc.boolean(),
      nodePortAddresses: fc.constantFrom([], ['primary'], ['127.0.0.0/8', '192.168.0.0/16']),
    },
    { requiredKeys: [] },
  ),
}) as fc.Arbitrary<GenerateOptions>
