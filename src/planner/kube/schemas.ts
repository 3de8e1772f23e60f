/**
 * zod schemas for the Kubernetes objects kube-proxy reads, in the shape `kubectl get -o json`
 * prints them. Objects are LOOSE: managedFields, annotations, status fields kube-proxy ignores,
 * and fields of newer API versions pass through untouched. Every field that reaches a rule or a
 * stored key is checked as the API server checks it (./validation.ts, citing the upstream
 * function), so a rejected snapshot names the offending field, and no name, address or port that
 * a real cluster could not hold ever reaches a plan.
 */
import { z } from 'zod'
import {
  allOf,
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isFQDN,
  isNonSpecialIP,
  isQualifiedName,
  isValidCIDR,
  isValidIP,
  isValidIPOfFamily,
  isValidLabelValue,
  isValidPortName,
  type Check,
} from './validation.js'

/** A string field checked by one of ./validation.ts's checks. */
export function k8s(check: Check): z.ZodString {
  return z.string().superRefine((v, ctx) => {
    for (const message of check(v)) ctx.addIssue({ code: 'custom', message })
  })
}

/** Runs `check` on `value` and reports each message at `path` (for checks that depend on a sibling field). */
function checkAt(ctx: z.RefinementCtx, path: PropertyKey[], value: string, check: Check): void {
  for (const message of check(value)) ctx.addIssue({ code: 'custom', message, path })
}

const port = z.int().min(1, 'must be between 1 and 65535, inclusive').max(65535, 'must be between 1 and 65535, inclusive')
const protocol = z.enum(['TCP', 'UDP', 'SCTP'], { error: 'protocol must be TCP, UDP or SCTP' })

/** metav1validation.ValidateLabels: qualified-name keys, label values. */
const labels = z.record(k8s(isQualifiedName), k8s(isValidLabelValue)).nullish()

/** ValidateObjectMeta with the kind's name check; namespaces are DNS-1123 labels (ValidateNamespaceName). */
function objectMeta(name: Check) {
  return z.looseObject({ name: k8s(name), namespace: k8s(isDNS1123Label).nullish(), labels })
}

const nodeName = k8s(isDNS1123Subdomain)

/** A Service port name (validateServicePort: ValidateDNS1123Label when non-empty). */
const portName = z.string().superRefine((v, ctx) => {
  if (v === '') return
  for (const message of isDNS1123Label(v)) ctx.addIssue({ code: 'custom', message })
})

export const ServicePortSchema = z.looseObject({
  name: portName.nullish(),
  protocol: protocol.nullish(),
  port,
  nodePort: z.int().min(0).max(65535, 'nodePort must be in 0..65535').nullish(),
  // ValidatePortNumOrName: a number in 1..65535 or an IANA service name.
  targetPort: z.union([port, k8s(isValidPortName)]).nullish(),
})

/** `None` (headless) or an address (validateServiceClusterIPs). */
const clusterIP = z.string().superRefine((v, ctx) => {
  if (v === '' || v === 'None') return
  for (const message of isValidIP(v)) ctx.addIssue({ code: 'custom', message })
})

export const ServiceSchema = z
  .looseObject({
    apiVersion: z.string().optional(),
    kind: z.literal('Service'),
    metadata: objectMeta(isDNS1035Label),
    spec: z.looseObject({
      type: z.enum(['', 'ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']).nullish(),
      clusterIP: clusterIP.nullish(),
      clusterIPs: z.array(clusterIP).max(2).nullish(),
      ipFamilies: z
        .array(z.enum(['IPv4', 'IPv6']))
        .max(2)
        .nullish(),
      ports: z.array(ServicePortSchema).nullish(),
      // ValidateService: each external IP is an address, and not a special one (ValidateNonSpecialIP).
      externalIPs: z.array(k8s(allOf(isValidIP, isNonSpecialIP))).nullish(),
      // service.GetLoadBalancerSourceRanges: trimmed, then parsed as CIDRs.
      loadBalancerSourceRanges: z
        .array(
          z.string().superRefine((v, ctx) => {
            for (const message of isValidCIDR(v.trim())) ctx.addIssue({ code: 'custom', message })
          }),
        )
        .nullish(),
      sessionAffinity: z.enum(['', 'None', 'ClientIP']).nullish(),
      sessionAffinityConfig: z
        .looseObject({
          clientIP: z.looseObject({ timeoutSeconds: z.int().min(1).max(86400, 'timeoutSeconds must be in 1..86400').nullish() }).nullish(),
        })
        .nullish(),
      externalTrafficPolicy: z.enum(['', 'Cluster', 'Local']).nullish(),
      internalTrafficPolicy: z.enum(['', 'Cluster', 'Local']).nullish(),
      healthCheckNodePort: z.int().min(0).max(65535).nullish(),
    }),
    status: z
      .looseObject({
        loadBalancer: z
          .looseObject({
            // ValidateLoadBalancerStatus: ip an address, hostname a DNS subdomain, ipMode VIP or Proxy.
            ingress: z
              .array(
                z.looseObject({
                  ip: z
                    .string()
                    .superRefine((v, ctx) => {
                      if (v !== '') for (const message of isValidIP(v)) ctx.addIssue({ code: 'custom', message })
                    })
                    .nullish(),
                  hostname: z
                    .string()
                    .superRefine((v, ctx) => {
                      if (v !== '') for (const message of isDNS1123Subdomain(v)) ctx.addIssue({ code: 'custom', message })
                    })
                    .nullish(),
                  ipMode: z.enum(['VIP', 'Proxy'], { error: 'ipMode must be VIP or Proxy' }).nullish(),
                }),
              )
              .nullish(),
          })
          .nullish(),
      })
      .nullish(),
  })
  .superRefine((svc, ctx) => {
    // validateServicePort: with more than one port every port is named, and names are unique.
    const ports = svc.spec.ports ?? []
    const seen = new Set<string>()
    ports.forEach((p, i) => {
      const name = p.name ?? ''
      if (name === '' && ports.length > 1)
        ctx.addIssue({ code: 'custom', message: 'Required value: a Service with several ports names each one', path: ['spec', 'ports', i, 'name'] })
      else if (name !== '' && seen.has(name))
        ctx.addIssue({ code: 'custom', message: `Duplicate value: port name ${JSON.stringify(name)}`, path: ['spec', 'ports', i, 'name'] })
      seen.add(name)
    })
  })

const EndpointConditions = z.looseObject({
  ready: z.boolean().nullish(),
  serving: z.boolean().nullish(),
  terminating: z.boolean().nullish(),
})
/** validateHints: at most 8 zone hints (label values) and 8 node hints (node names). */
const zoneHints = z
  .array(z.looseObject({ name: k8s(isValidLabelValue) }))
  .max(8)
  .nullish()
const nodeHints = z
  .array(z.looseObject({ name: nodeName }))
  .max(8)
  .nullish()

/** pkg/apis/discovery/validation: ValidateEndpointSlice (maxEndpoints 1000, maxAddresses 100, maxPorts 100). */
export const EndpointSliceSchema = z
  .looseObject({
    apiVersion: z.string().optional(),
    kind: z.literal('EndpointSlice'),
    metadata: objectMeta(isDNS1123Subdomain),
    addressType: z.enum(['IPv4', 'IPv6', 'FQDN'], { error: 'addressType must be IPv4, IPv6 or FQDN' }),
    endpoints: z
      .array(
        z.looseObject({
          addresses: z.array(z.string()).min(1, 'must contain at least 1 address').max(100),
          conditions: EndpointConditions.nullish(),
          nodeName: nodeName.nullish(),
          zone: k8s(isValidLabelValue).nullish(),
          hints: z.looseObject({ forZones: zoneHints, forNodes: nodeHints }).nullish(),
        }),
      )
      .max(1000)
      .nullish(),
    ports: z
      .array(
        z.looseObject({
          // validatePorts: a non-empty name is a DNS-1123 label.
          name: portName.nullish(),
          protocol: protocol.nullish(),
          // 0/absent is tolerated (kube-proxy skips such a port); out of range is not.
          port: z.int().min(0).max(65535, 'port must be in 1..65535').nullish(),
        }),
      )
      .max(100)
      .nullish(),
  })
  .superRefine((slice, ctx) => {
    // validateEndpoints: each address checked for the slice's addressType.
    const check: Check = slice.addressType === 'FQDN' ? isFQDN : allOf(isValidIPOfFamily(slice.addressType), isNonSpecialIP)
    ;(slice.endpoints ?? []).forEach((e, i) => e.addresses.forEach((a, j) => checkAt(ctx, ['endpoints', i, 'addresses', j], a, check)))
    // validatePorts: names are unique within a slice.
    const seen = new Set<string>()
    ;(slice.ports ?? []).forEach((p, i) => {
      const name = p.name ?? ''
      if (seen.has(name)) ctx.addIssue({ code: 'custom', message: `Duplicate value: port name ${JSON.stringify(name)}`, path: ['ports', i, 'name'] })
      seen.add(name)
    })
  })

/** ValidateEndpoints (pkg/apis/core/validation): addresses are non-special IPs, node names subdomains. */
const EndpointAddress = z.looseObject({ ip: k8s(allOf(isValidIP, isNonSpecialIP)), nodeName: nodeName.nullish() })

export const EndpointsSchema = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.literal('Endpoints'),
  metadata: objectMeta(isDNS1123Subdomain),
  subsets: z
    .array(
      z.looseObject({
        addresses: z.array(EndpointAddress).nullish(),
        notReadyAddresses: z.array(EndpointAddress).nullish(),
        ports: z.array(z.looseObject({ name: portName.nullish(), protocol: protocol.nullish(), port })).nullish(),
      }),
    )
    .nullish(),
})

const NODE_ADDRESS_TYPES = ['Hostname', 'InternalIP', 'ExternalIP', 'InternalDNS', 'ExternalDNS'] as const

export const NodeSchema = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.literal('Node'),
  metadata: z.looseObject({ name: nodeName, labels }),
  spec: z
    .looseObject({
      // validateNodeSpec: pod CIDRs are CIDRs (at most one per family).
      podCIDR: k8s(isValidCIDR).nullish(),
      podCIDRs: z.array(k8s(isValidCIDR)).max(2).nullish(),
    })
    .nullish(),
  status: z
    .looseObject({
      addresses: z
        .array(
          z
            .looseObject({ type: z.enum(NODE_ADDRESS_TYPES, { error: `type must be one of ${NODE_ADDRESS_TYPES.join(', ')}` }), address: z.string() })
            .superRefine((a, ctx) => {
              // The IP addresses reach rules (NodePort destinations, the node's primary IP); the
              // names do not, and the API server does not check them.
              if (a.type === 'InternalIP' || a.type === 'ExternalIP') checkAt(ctx, ['address'], a.address, isValidIP)
            }),
        )
        .nullish(),
    })
    .nullish(),
})

/** A ConfigMap: the planner reads kube-system/kube-proxy's config.conf (src/planner/kube/settings.ts). */
export const ConfigMapSchema = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.literal('ConfigMap'),
  metadata: objectMeta(isDNS1123Subdomain),
  data: z.record(z.string(), z.string()).nullish(),
})

export type ServiceObject = z.output<typeof ServiceSchema>
export type EndpointSliceObject = z.output<typeof EndpointSliceSchema>
export type EndpointsObject = z.output<typeof EndpointsSchema>
export type NodeObject = z.output<typeof NodeSchema>

/** The kinds the planner reads; anything else is ignored and counted. */
export const KIND_SCHEMAS = {
  Service: ServiceSchema,
  EndpointSlice: EndpointSliceSchema,
  Endpoints: EndpointsSchema,
  Node: NodeSchema,
  ConfigMap: ConfigMapSchema,
} as const
export type KnownKind = keyof typeof KIND_SCHEMAS
