/**
 * zod schemas for the Kubernetes objects kube-proxy reads, in the shape `kubectl get -o json`
 * prints them. Objects are LOOSE: managedFields, annotations, status fields kube-proxy ignores,
 * and fields of newer API versions pass through untouched. What is checked is only what
 * kube-proxy needs to be usable (a port in 1..65535, a protocol it can program, a name), so that
 * a rejected snapshot names the offending field instead of producing a silently wrong plan.
 */
import { z } from 'zod'

const name = z.string().min(1, 'must be a non-empty string')
const port = z.int().min(1, 'port must be in 1..65535').max(65535, 'port must be in 1..65535')
const protocol = z.enum(['TCP', 'UDP', 'SCTP'], { error: 'protocol must be TCP, UDP or SCTP' })
const strList = z.array(z.string()).nullish()

const ObjectMeta = z.looseObject({
  name,
  namespace: z.string().nullish(),
  labels: z.record(z.string(), z.string()).nullish(),
})

const ClusterScopedMeta = z.looseObject({ name, labels: z.record(z.string(), z.string()).nullish() })

export const ServicePortSchema = z.looseObject({
  name: z.string().nullish(),
  protocol: protocol.nullish(),
  port,
  nodePort: z.int().min(0).max(65535, 'nodePort must be in 0..65535').nullish(),
  targetPort: z.union([z.int(), z.string()]).nullish(),
})

export const ServiceSchema = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.literal('Service'),
  metadata: ObjectMeta,
  spec: z.looseObject({
    type: z.enum(['', 'ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']).nullish(),
    clusterIP: z.string().nullish(),
    clusterIPs: strList,
    ipFamilies: z.array(z.enum(['IPv4', 'IPv6'])).nullish(),
    ports: z.array(ServicePortSchema).nullish(),
    externalIPs: strList,
    loadBalancerSourceRanges: strList,
    sessionAffinity: z.enum(['', 'None', 'ClientIP']).nullish(),
    sessionAffinityConfig: z
      .looseObject({
        clientIP: z
          .looseObject({ timeoutSeconds: z.int().min(1).max(86400, 'timeoutSeconds must be in 1..86400').nullish() })
          .nullish(),
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
          ingress: z
            .array(z.looseObject({ ip: z.string().nullish(), hostname: z.string().nullish(), ipMode: z.string().nullish() }))
            .nullish(),
        })
        .nullish(),
    })
    .nullish(),
})

const EndpointConditions = z.looseObject({
  ready: z.boolean().nullish(),
  serving: z.boolean().nullish(),
  terminating: z.boolean().nullish(),
})
const hintList = z.array(z.looseObject({ name: z.string() })).nullish()

export const EndpointSliceSchema = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.literal('EndpointSlice'),
  metadata: ObjectMeta,
  addressType: z.enum(['IPv4', 'IPv6', 'FQDN'], { error: 'addressType must be IPv4, IPv6 or FQDN' }),
  endpoints: z
    .array(
      z.looseObject({
        addresses: z.array(z.string()).nullish(),
        conditions: EndpointConditions.nullish(),
        nodeName: z.string().nullish(),
        zone: z.string().nullish(),
        hints: z.looseObject({ forZones: hintList, forNodes: hintList }).nullish(),
      }),
    )
    .nullish(),
  ports: z
    .array(
      z.looseObject({
        name: z.string().nullish(),
        protocol: protocol.nullish(),
        // 0/absent is tolerated (kube-proxy skips such a port); out of range is not.
        port: z.int().min(0).max(65535, 'port must be in 1..65535').nullish(),
      }),
    )
    .nullish(),
})

const EndpointAddress = z.looseObject({ ip: z.string(), nodeName: z.string().nullish() })

export const EndpointsSchema = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.literal('Endpoints'),
  metadata: ObjectMeta,
  subsets: z
    .array(
      z.looseObject({
        addresses: z.array(EndpointAddress).nullish(),
        notReadyAddresses: z.array(EndpointAddress).nullish(),
        ports: z
          .array(z.looseObject({ name: z.string().nullish(), protocol: protocol.nullish(), port }))
          .nullish(),
      }),
    )
    .nullish(),
})

export const NodeSchema = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.literal('Node'),
  metadata: ClusterScopedMeta,
  status: z
    .looseObject({
      addresses: z.array(z.looseObject({ type: z.string(), address: z.string() })).nullish(),
    })
    .nullish(),
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
} as const
export type KnownKind = keyof typeof KIND_SCHEMAS
