/**
 * What each variant of a cluster plan (planner/plan.ts planCluster) amounts to, computed from what
 * its nodes share plus what each has of its own, so that summarising every node costs about
 * as much as summarising one: a digest that tells plans apart, and the counts of its tables.
 */
import { createHash } from 'node:crypto'
import { LOCAL_CIDR } from '../context.js'
import { segmentHash } from '../iptables/hash.js'
import type { ClusterPlan, Family, Segment, TableName, VariantFamily } from '../types.js'
import { statsOf, type StatsMemo } from './stats.js'

export interface VariantSummary {
  /**
   * sha256 (hex) over the variant's segments' content hashes in plan order, family by family,
   * with its pod CIDR where the NodeCIDR detector writes it: equal for nodes of byte-identical
   * plans, different otherwise.
   */
  digest: string
  families: Partial<Record<Family, Record<TableName, { chains: number; rules: number }>>>
  /** Bytes of the kube-proxy-flavour restore script(s), all tables, all families. */
  scriptBytes: number
  /** Rules in KUBE-SERVICES (nat), all families: what kube-proxy walks for every new connection. */
  kubeServices: number
}

interface Totals {
  filterChains: number
  filterRules: number
  natChains: number
  natRules: number
  bytes: number
  kubeServices: number
  /** LOCAL_CIDR occurrences (each becomes the node's pod CIDR). */
  placeholders: number
}

const zero = (): Totals => ({ filterChains: 0, filterRules: 0, natChains: 0, natRules: 0, bytes: 0, kubeServices: 0, placeholders: 0 })

function occurrences(text: string): number {
  let n = 0
  for (let i = text.indexOf(LOCAL_CIDR); i >= 0; i = text.indexOf(LOCAL_CIDR, i + 1)) n++
  return n
}

/** What the shared segments of one class hold: their hashes back to back, and their totals. */
interface Shared {
  hashes: Buffer
  totals: Totals
}

export function variantSummaries(cp: ClusterPlan, memo?: StatsMemo): VariantSummary[] {
  const hashes = new Map<Segment, Buffer>()
  const hashOf = (seg: Segment): Buffer => {
    let h = hashes.get(seg)
    if (!h) hashes.set(seg, (h = Buffer.from(segmentHash(seg), 'hex')))
    return h
  }
  const add = (t: Totals, seg: Segment, sign: 1 | -1): void => {
    const s = statsOf(seg, memo)
    t.filterChains += sign * s.declared.filter
    t.filterRules += sign * s.appended.filter
    t.natChains += sign * s.declared.nat
    t.natRules += sign * s.appended.nat
    t.bytes += sign * (s.filterBytes + s.natBytes)
    t.kubeServices += sign * s.kubeServices
    t.placeholders += sign * occurrences(seg.natRules)
  }
  const shared = new Map<readonly Segment[], Shared>()
  const sharedOf = (services: readonly Segment[]): Shared => {
    let s = shared.get(services)
    if (!s) {
      const totals = zero()
      for (const seg of services) add(totals, seg, 1)
      shared.set(services, (s = { hashes: Buffer.concat(services.map(hashOf)), totals }))
    }
    return s
  }
  return cp.variants.map((v) => {
    const h = createHash('sha256').update('natplan-plan/v1\n')
    const families: VariantSummary['families'] = {}
    let scriptBytes = 0
    let kubeServices = 0
    for (const vf of v.families) {
      const t = familyTotals(vf, sharedOf(vf.services), add, hashOf, h)
      families[vf.family] = { filter: { chains: t.filterChains, rules: t.filterRules }, nat: { chains: t.natChains, rules: t.natRules } }
      scriptBytes += '*filter\nCOMMIT\n*nat\nCOMMIT\n'.length + t.bytes + t.placeholders * ((vf.localCIDR?.length ?? 1) - 1)
      kubeServices += t.kubeServices
    }
    return { digest: h.digest('hex'), families, scriptBytes, kubeServices }
  })
}

function familyTotals(
  vf: VariantFamily,
  shared: Shared,
  add: (t: Totals, seg: Segment, sign: 1 | -1) => void,
  hashOf: (seg: Segment) => Buffer,
  h: ReturnType<typeof createHash>,
): Totals {
  const t = { ...shared.totals }
  add(t, vf.head, 1)
  add(t, vf.tail, 1)
  h.update(`${vf.family} ${vf.localCIDR ?? ''}\n`).update(hashOf(vf.head))
  // The shared hashes between the node's own segments, each of those in its place.
  let at = 0
  for (const [k, seg] of vf.overrides) {
    add(t, vf.services[k]!, -1)
    add(t, seg, 1)
    h.update(shared.hashes.subarray(at * 32, k * 32)).update(hashOf(seg))
    at = k + 1
  }
  h.update(shared.hashes.subarray(at * 32)).update(hashOf(vf.tail))
  return t
}
