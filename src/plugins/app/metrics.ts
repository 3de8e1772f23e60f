/**
 * Prometheus metrics (prom-client) on a registry per app instance, so several apps in one
 * process (tests) do not collide. HTTP duration is a histogram labelled by the route pattern
 * (never the raw URL: cluster names would explode cardinality); its _count is the request count.
 * Plan gauges are read from services.clusterGauges() at scrape time, named after kube-proxy's
 * sync_proxy_rules_iptables_total{table} idea, per cluster, family and table.
 */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Services } from '../../services/contract.js'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Registry
  }
  interface FastifyRequest {
    startedAt: bigint
  }
}

export function createRegistry(app: FastifyInstance, services: Services): Registry {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'natplan_' })
  const labels = ['cluster', 'family', 'table'] as const

  // prom-client serialises all metrics concurrently, each after its own collect(): every plan
  // gauge therefore awaits one shared read of services.clusterGauges() per scrape. Gauges are
  // reset first so deleted clusters do not linger.
  let inFlight: Promise<void> | null = null
  const refresh = (): Promise<void> => {
    inFlight ??= (async () => {
      try {
        const [rows, versions, drifts] = await Promise.all([services.clusterGauges(), services.latestGauges(), services.driftGauges()])
        for (const g of all) g.reset()
        const now = Date.now() / 1000
        for (const g of rows) {
          rules.set({ cluster: g.cluster, family: g.family, table: g.table }, g.rules)
          chains.set({ cluster: g.cluster, family: g.family, table: g.table }, g.chains)
          latest.set({ cluster: g.cluster }, g.version)
        }
        for (const v of versions) {
          latestAt.set({ cluster: v.cluster }, v.createdAt.getTime() / 1000)
          latestAge.set({ cluster: v.cluster }, Math.max(0, now - v.createdAt.getTime() / 1000))
          scriptBytes.set({ cluster: v.cluster }, v.scriptBytes)
          scriptLines.set({ cluster: v.cluster }, v.scriptLines)
          if (v.kubeServices !== null) kubeServices.set({ cluster: v.cluster }, v.kubeServices)
          nodes.set({ cluster: v.cluster }, v.nodes.length)
          for (const n of v.nodes) {
            nodeKubeServices.set({ cluster: v.cluster, node: n.node }, n.kubeServices)
            nodeScriptBytes.set({ cluster: v.cluster, node: n.node }, n.scriptBytes)
            nodeScriptLines.set({ cluster: v.cluster, node: n.node }, n.scriptLines)
            nodeRules.set({ cluster: v.cluster, node: n.node, table: 'nat' }, n.natRules)
            nodeRules.set({ cluster: v.cluster, node: n.node, table: 'filter' }, n.filterRules)
          }
        }
        for (const d of drifts) {
          const labels = { cluster: d.cluster, node: d.node, family: d.family }
          for (const [kind, n] of Object.entries(d.summary)) driftFindings.set({ ...labels, kind }, n)
          driftAt.set(labels, d.checkedAt.getTime() / 1000)
          driftVersion.set(labels, d.version)
        }
        up.set(1)
      } catch (err) {
        app.log.warn({ err }, 'metrics: cannot read plan gauges')
        for (const g of all) g.reset()
        up.set(0)
      } finally {
        setImmediate(() => (inFlight = null))
      }
    })()
    return inFlight
  }
  const collect = async () => refresh()
  const rules = new Gauge({ name: 'natplan_plan_rules', help: "Rules in the latest version's plan", labelNames: labels, registers: [registry], collect })
  const chains = new Gauge({ name: 'natplan_plan_chains', help: "Chains in the latest version's plan", labelNames: labels, registers: [registry], collect })
  const latest = new Gauge({
    name: 'natplan_latest_version',
    help: 'Newest version number per cluster',
    labelNames: ['cluster'],
    registers: [registry],
    collect,
  })
  const gauge = (name: string, help: string, labelNames: string[]) => new Gauge({ name, help, labelNames, registers: [registry], collect })
  // For alerts (deploy/prometheus-rules.yaml): how old the latest snapshot is, and how long the
  // tables a packet walks have grown — per cluster (the version's node) and per node.
  const latestAt = gauge('natplan_latest_version_timestamp_seconds', 'When the newest version of the cluster was stored (Unix time)', ['cluster'])
  const scriptBytes = gauge('natplan_plan_script_bytes', "Bytes of the newest version's restore script(s), all tables and families", ['cluster'])
  const kubeServices = gauge('natplan_kube_services_rules', "Rules in nat KUBE-SERVICES of the newest version's node (growth's kubeServicesRules)", ['cluster'])
  const latestAge = gauge('natplan_latest_version_age_seconds', 'Seconds since the newest version of the cluster was stored, at scrape time', ['cluster'])
  const scriptLines = gauge('natplan_plan_script_lines', "Lines of the newest version's restore script(s), all tables and families", ['cluster'])
  const nodes = gauge('natplan_plan_nodes', 'Nodes the newest version plans', ['cluster'])
  const nodeKubeServices = gauge('natplan_node_kube_services_rules', 'Rules in nat KUBE-SERVICES per node, newest version', ['cluster', 'node'])
  const nodeScriptBytes = gauge('natplan_node_script_bytes', "Bytes of the node's restore script, newest version", ['cluster', 'node'])
  const nodeScriptLines = gauge('natplan_node_script_lines', "Lines of the node's restore script, all tables and families, newest version", ['cluster', 'node'])
  // The last POST …/drift of each node and family (store/drift-checks.ts); kind is a key of the
  // drift report's summary (staleRules, missingChains, …, unreadableLines, settingsMismatches).
  const driftLabels = ['cluster', 'node', 'family']
  const driftFindings = gauge('natplan_node_drift_findings', "Findings of the node's last drift check, by kind", [...driftLabels, 'kind'])
  const driftAt = gauge('natplan_node_drift_check_timestamp_seconds', "When the node's last drift check ran (Unix time)", driftLabels)
  const driftVersion = gauge('natplan_node_drift_check_version', "The version the node's last drift check compared with", driftLabels)
  const nodeRules = gauge('natplan_node_rules', "Rules in the node's plan per table, newest version", ['cluster', 'node', 'table'])
  const all = [
    ...[rules, chains, latest, latestAt, latestAge, scriptBytes, scriptLines, kubeServices, nodes],
    ...[nodeKubeServices, nodeScriptBytes, nodeScriptLines, nodeRules, driftFindings, driftAt, driftVersion],
  ]
  const up = new Gauge({
    name: 'natplan_database_up',
    help: '1 when the last scrape could read the plan gauges from PostgreSQL',
    registers: [registry],
    collect,
  })
  return registry
}

export default fp(
  async function metricsPlugin(app: FastifyInstance, opts: { services: Services }) {
    const registry = createRegistry(app, opts.services)
    app.decorate('metrics', registry)
    const duration = new Histogram({
      name: 'natplan_http_request_duration_seconds',
      help: 'HTTP request duration by route pattern, method and status',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    })
    const bytes = new Counter({
      name: 'natplan_http_request_body_bytes_total',
      help: 'Request body bytes received, by route pattern',
      labelNames: ['route'],
      registers: [registry],
    })
    app.decorateRequest('startedAt', 0n)
    app.addHook('onRequest', async (request) => {
      request.startedAt = process.hrtime.bigint()
    })
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched'
      const seconds = Number(process.hrtime.bigint() - request.startedAt) / 1e9
      duration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, seconds)
      const length = Number(request.headers['content-length'] ?? 0)
      if (length > 0) bytes.inc({ route }, length)
    })
  },
  { name: 'metrics' },
)
