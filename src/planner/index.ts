/**
 * natplan/planner — the pure planner: snapshot in, kube-proxy's iptables restore input out.
 * No I/O, no clock, no environment: the same envelope always gives the same bytes.
 */
export type {
  ClusterPlan,
  PlanVariant,
  PlannedNode,
  VariantFamily,
  Family,
  FamilyPlan,
  Flavour,
  Plan,
  PlanWarning,
  Protocol,
  RenderOptions,
  Segment,
  SegmentStats,
  TableName,
} from './types.js'
export { lineCount, linesText, SEGMENT_BUFFERS, segmentLines, textLines, type SegmentBuffer } from './types.js'
export {
  EnvelopeSchema,
  ProxyConfigSchema,
  KubeObjectSchema,
  toEnvelope,
  type Envelope,
  type ProxyConfigInput,
  type NodeSettingsInput,
  type Issue,
  type ToEnvelopeResult,
  type EnvelopeOptions,
} from './kube/envelope.js'
export {
  ServiceSchema,
  EndpointSliceSchema,
  EndpointsSchema,
  NodeSchema,
  type ServiceObject,
  type EndpointSliceObject,
  type EndpointsObject,
  type NodeObject,
} from './kube/schemas.js'
export { plan, planCluster, nodePlan, variantPlan, variantSegments, PlanInputError, AmbiguousNodeError, LARGE_CLUSTER_ENDPOINTS } from './plan.js'
export { resolveNodes, nodeConfig, SETTINGS, type NodeConfig, type ResolvedNodes } from './kube/settings.js'
export type { PlanOptions, PlanReuse, FamilyReuse } from './reuse.js'
export { renderRestore, renderRestoreBuffers, renderRestoreBytes, renderRestoreChunks, planTables, type TableView } from './iptables/render.js'
export { segmentHash, canonicalSegment } from './iptables/hash.js'
export { normaliseRestore, parseRestore, serialiseRestore, RestoreParseError } from './iptables/normalise.js'
export { probability, formatFixed10 } from './iptables/probability.js'
export { portProtoHash, endpointHash, SERVICE_CHAIN_PREFIXES } from './iptables/chains.js'
export { parseIPSloppy, parseCIDRSloppy } from './kube/ip.js'
export { UnsafeWordError, isSafeWord, safeWord, unsafeLine } from './iptables/words.js'
export { markFromBit, nodeFamilies } from './context.js'
