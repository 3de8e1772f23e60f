/**
 * Incremental planning: what `plan(envelope, { reuse })` remembers between calls. The caller owns
 * it (the planner keeps no state of its own): plan() reads the previous plan's segments from it and
 * replaces its content with the new plan's.
 *
 * A service segment is a function of (a) its Service object, (b) the EndpointSlices of that
 * Service (in item order), and (c) family-wide inputs: the proxy settings as the FamilyContext
 * derives them (mark, local detector, node name, zone, node-port addresses, ...) and large-cluster
 * mode. (c) is the family's `context` key; (a)+(b) are the segment's fingerprint, made of the
 * objects' content hashes. A segment whose context and fingerprint are unchanged is reused as is.
 * Service ports fed by legacy v1 Endpoints (natplan's compatibility path) are always rebuilt.
 */
import type { Family, Segment, SegmentStats } from './types.js'
import type { FamilyContext } from './context.js'
import type { Endpoint } from './model.js'

export interface FamilyReuse {
  /** Fingerprint of the family-wide inputs the segments were built with. */
  context: string
  /** Service-port fingerprint → the segment built from it. */
  segments: Map<string, Segment>
  /** Fingerprint → the port's endpoints, for ports whose rules may read the node (plan.ts nodeSegments). */
  endpoints: Map<string, Endpoint[]>
}

export interface PlanReuse {
  families: Partial<Record<Family, FamilyReuse>>
}

export interface PlanOptions {
  /** Caller-owned memory of the previous plan (start with `{ families: {} }`); updated in place. */
  reuse?: PlanReuse
  /**
   * A content hash per envelope item (aligned with `resources.items`), e.g. the sha256 of its
   * canonical JSON the store computes anyway. Without it, reuse fingerprints items by JSON text.
   */
  itemHashes?: readonly string[]
  /**
   * Caller-owned memo (analysis/stats.ts StatsMemo): the planner records the statistics of every
   * service segment it writes, counted while writing, so planStats never scans them.
   */
  stats?: WeakMap<Segment, SegmentStats>
}

/** Every field of the context shapes segment text, so the key is all of them. */
export function contextKey(ctx: FamilyContext): string {
  return JSON.stringify(ctx)
}
