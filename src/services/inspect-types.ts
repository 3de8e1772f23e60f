/**
 * The inspect use-cases' contract (implemented by createInspectServices in inspect.ts): a packet
 * trace through a stored version, a drift check of a node's iptables-save dump, a cleanup
 * report. Shared by the REST routes under src/api/rest/inspect and the GraphQL resolvers. Types only.
 */
import type { DriftReport } from '../planner/analysis/drift.js'
import type { TracePacket, TraceResult } from '../planner/analysis/trace.js'
import type { Family } from '../planner/types.js'
import type { VersionRef } from './contract.js'

export interface TraceRequest extends TracePacket {
  /** Extra node addresses for `addrtype LOCAL` (default: the snapshot's proxy.nodeIPs). */
  nodeAddresses?: string[]
}

export interface TraceReport extends TraceResult {
  cluster: string
  version: number
  family: Family
  packet: TracePacket
  nodeAddresses: string[]
}

export interface DriftCheck extends DriftReport {
  cluster: string
  version: number
}

export type CleanupKind = 'no-endpoints' | 'only-terminating-endpoints' | 'no-local-endpoints' | 'firewall-drops'

export interface CleanupItem {
  kind: CleanupKind
  /** servicePortName, e.g. `ns1/svc1:p80` */
  service: string
  protocol?: string
  family: Family
  detail: string
  /** The plan rules that implement the drop/reject (as kube-proxy writes them). */
  rules: string[]
  endpoints?: { total: number; ready: number; serving: number; terminating: number }
}

export interface CleanupReport {
  cluster: string
  version: number
  summary: Record<CleanupKind, number>
  items: CleanupItem[]
}

export interface InspectServices {
  /** `node`: one node of the version (default: the version's, see Services.getPlan). */
  trace(cluster: string, ref: VersionRef, request: TraceRequest, node?: string): Promise<TraceReport>
  drift(cluster: string, ref: VersionRef, saveText: string, opts?: { family?: Family; node?: string }): Promise<DriftCheck>
  cleanup(cluster: string, ref: VersionRef, node?: string): Promise<CleanupReport>
}
