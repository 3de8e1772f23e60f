/**
 * Inspecting a stored version: packet trace, drift of a node's iptables-save dump, cleanup report.
 * All three only read (scope `read`, even the POSTs: the body is a question, not a change).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { InspectServices } from '../../../services/inspect.js'
import { serviceOf } from '../../optional.js'
import { NodeParams, Problem, toVersionRef, VersionParams } from '../schemas.js'
import { zodScope } from '../zod-scope.js'

const nodeOf = (params: unknown): string | undefined => (params as { node?: string }).node

const problems = { 400: Problem, 401: Problem, 403: Problem, 404: Problem, 413: Problem, 415: Problem, 429: Problem, 503: Problem }

const Family = z.enum(['IPv4', 'IPv6'])
const Table = z.enum(['filter', 'nat'])

const TraceBody = z
  .strictObject({
    source: z.string().min(1).max(64).describe('Source IP of the new connection'),
    destination: z.string().min(1).max(64).describe('Destination IP (cluster IP, external IP, LB IP or a node IP for NodePorts)'),
    port: z.number().int().min(1).max(65535),
    protocol: z.enum(['tcp', 'udp', 'sctp']).default('tcp'),
    nodeAddresses: z.array(z.string().max(64)).max(64).optional().describe("Addresses that are LOCAL to the node (default: the snapshot's proxy.nodeIPs)"),
  })
  .meta({ id: 'TraceRequest' })

const TraceResponse = z
  .object({
    cluster: z.string(),
    version: z.number().int(),
    family: Family,
    packet: z.object({ source: z.string(), destination: z.string(), port: z.number().int(), protocol: z.string() }),
    nodeAddresses: z.array(z.string()),
    rulesMatched: z.array(z.object({ table: Table, chain: z.string(), rule: z.string() })).describe('Rules matched, in evaluation order'),
    endpoints: z
      .array(z.object({ endpoint: z.string(), probability: z.number() }))
      .describe('Endpoints a new connection may reach, with their effective share'),
    masqueraded: z.boolean(),
    verdict: z.enum(['DNAT', 'DROP', 'REJECT', 'ACCEPT', 'NONE']),
    output: z.string().describe("Upstream tracePacket's output string"),
  })
  .meta({ id: 'TraceResult' })

const WholeChain = z.object({ chain: z.string(), service: z.string().optional(), rules: z.number().int() })
const DriftRule = z.object({ rule: z.string(), service: z.string().optional() })
const TableDrift = z.object({
  staleChains: z.array(WholeChain),
  missingChains: z.array(WholeChain),
  changedChains: z.array(
    z.object({
      chain: z.string(),
      service: z.string().optional(),
      staleRules: z.array(DriftRule),
      missingRules: z.array(DriftRule),
      unverifiedRules: z.array(DriftRule).optional().describe("Planned rules not found where some of the node's lines were unreadable"),
    }),
  ),
})

const InferredSettings = z.object({
  family: Family,
  masqueradeMark: z.string().optional(),
  masqueradeBit: z.number().int().optional(),
  masqueradeRandomFully: z.boolean().optional(),
  conntrackTCPBeLiberal: z.boolean().optional(),
  nfacct: z.object({ ct_state_invalid_dropped_pkts: z.boolean().optional(), localhost_nps_accepted_pkts: z.boolean().optional() }),
  localhostNodePorts: z.boolean().optional(),
  localDetector: z.object({ kind: z.enum(['cidr', 'bridge', 'prefix', 'masqueradeAll', 'none']), value: z.string().optional() }).optional(),
  loadBalancerIPMode: z.boolean().optional(),
  releases: z.array(z.string()).optional(),
  evidence: z.record(z.string(), z.object({ rule: z.string(), line: z.number().int().optional() })),
})

const DriftResponse = z
  .object({
    cluster: z.string(),
    version: z.number().int(),
    family: Family,
    inSync: z.boolean(),
    summary: z.object({
      staleChains: z.number().int(),
      missingChains: z.number().int(),
      changedChains: z.number().int(),
      staleRules: z.number().int(),
      missingRules: z.number().int(),
      unreadableLines: z.number().int(),
      settingsMismatches: z.number().int().describe("Settings the node's rules show otherwise than natplan was told (settings.mismatches)"),
    }),
    settings: z
      .object({
        told: InferredSettings.describe("The settings natplan's plan shows (what it was told), with evidence rules"),
        node: InferredSettings.describe(
          "The settings the node's rules show (mark, --random-fully, nfacct per counter, tcp be-liberal, localhost NodePorts, local detector, LoadBalancerIPMode and the releases whose defaults fit), with evidence lines",
        ),
        mismatches: z.array(
          z.object({
            setting: z.string(),
            told: z.string(),
            node: z.string(),
            evidence: z.object({ rule: z.string(), line: z.number().int().optional() }).optional(),
            fix: z.string().describe('The settings that say it'),
          }),
        ),
      })
      .describe('Which kube-proxy wrote this: each setting mismatch is one finding, and the rules it shapes are compared without it'),
    tables: z.object({ filter: TableDrift, nat: TableDrift }),
    services: z.array(
      z.object({
        service: z.string(),
        staleChains: z.array(z.string()),
        missingChains: z.array(z.string()),
        changedChains: z.array(z.string()),
        staleRules: z.number().int(),
        missingRules: z.number().int(),
      }),
    ),
    ignoredChains: z.array(z.object({ table: z.string(), chain: z.string() })),
    unreadable: z
      .array(z.object({ line: z.number().int().describe('1-based'), text: z.string(), detail: z.string() }))
      .describe('Lines of the dump that could not be read (redacted, cut short, edited): skipped, the rest compared'),
  })
  .meta({ id: 'DriftReport' })

const CleanupKind = z.enum(['no-endpoints', 'only-terminating-endpoints', 'no-local-endpoints', 'firewall-drops'])
const CleanupResponse = z
  .object({
    cluster: z.string(),
    version: z.number().int(),
    summary: z.record(z.string(), z.number().int()),
    items: z.array(
      z.object({
        kind: CleanupKind,
        service: z.string(),
        protocol: z.string().optional(),
        family: Family,
        detail: z.string(),
        rules: z.array(z.string()),
        endpoints: z.object({ total: z.number().int(), ready: z.number().int(), serving: z.number().int(), terminating: z.number().int() }).optional(),
      }),
    ),
  })
  .meta({ id: 'CleanupReport' })

function inspectOf(app: { services: { inspect?: InspectServices } }): InspectServices {
  return serviceOf(app.services, 'inspect')
}

/** Registered by app.ts under /v1 as its own encapsulated scope: zod compilers and a text/plain body here. */
const inspectRoutes: FastifyPluginAsyncZod = async (app) => {
  zodScope(app)
  // The drift body is iptables-save text; take it as a string whatever the parent scope does.
  if (app.hasContentTypeParser('text/plain')) app.removeContentTypeParser('text/plain')
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_req, body, done) => done(null, body))

  // The version's node (400 when it has many and names none), and any node under /nodes/{node}/.
  for (const base of ['/clusters/:cluster/versions/:version', '/clusters/:cluster/versions/:version/nodes/:node']) {
    const perNode = base.endsWith(':node')
    app.post(
      `${base}/trace`,
      {
        config: { scope: 'read' },
        schema: {
          tags: perNode ? ['inspect', 'nodes'] : ['inspect'],
          summary: "Trace a new connection through the version's plan",
          description:
            "Walks nat then filter like upstream's tracePacket: rules matched in order, the endpoints reached with their probabilities, masquerade, and the verdict.",
          params: perNode ? NodeParams : VersionParams,
          body: TraceBody,
          response: { 200: TraceResponse, ...problems },
        },
      },
      async (request) => inspectOf(app).trace(request.params.cluster, toVersionRef(request.params.version), request.body, nodeOf(request.params)),
    )

    app.post(
      `${base}/drift`,
      {
        config: { scope: 'read', accepts: ['text/plain'] },
        // A JSON body would parse and then fail as "not a string"; say what is wrong instead.
        preValidation: async (request) => {
          if (!/^text\/plain\b/i.test(request.headers['content-type'] ?? '')) {
            throw Object.assign(new Error('the drift body must be text/plain (the output of iptables-save)'), { statusCode: 415 })
          }
        },
        schema: {
          tags: perNode ? ['inspect', 'nodes'] : ['inspect'],
          summary: "Compare a node's iptables-save output (text/plain body) with the version's plan",
          description:
            "Stale, missing and changed chains and rules, grouped by Service. Rules are compared in canonical form, so the kernel's printed form of a planned rule is not drift.",
          params: perNode ? NodeParams : VersionParams,
          querystring: z.strictObject({
            family: Family.optional().describe('Which family plan to compare with (default: guessed from the addresses in the dump, else the first family)'),
          }),
          body: z
            .string()
            .min(1)
            .max(256 * 1024 * 1024)
            .describe('iptables-save output'),
          response: { 200: DriftResponse, ...problems },
        },
      },
      async (request) =>
        inspectOf(app).drift(request.params.cluster, toVersionRef(request.params.version), request.body, {
          family: request.query.family,
          node: nodeOf(request.params),
        }),
    )

    app.get(
      `${base}/cleanup`,
      {
        schema: {
          tags: perNode ? ['inspect', 'nodes'] : ['inspect'],
          summary: 'Services that cannot be reached and traffic policies that drop',
          params: perNode ? NodeParams : VersionParams,
          response: { 200: CleanupResponse, ...problems },
        },
      },
      async (request) => inspectOf(app).cleanup(request.params.cluster, toVersionRef(request.params.version), nodeOf(request.params)),
    )
  }
}

export default inspectRoutes
