/** Relative links in responses, so clients navigate without building URLs themselves. */
import type { ClusterSummary, VersionSummary } from '../../services/contract.js'

const enc = encodeURIComponent

export function clusterLinks(cluster: string): Record<string, string> {
  const base = `/v1/clusters/${enc(cluster)}`
  return { self: base + '/versions', versions: `${base}/versions`, latest: `${base}/versions/latest`, snapshots: `${base}/snapshots` }
}

export function versionLinks(v: Pick<VersionSummary, 'cluster' | 'version' | 'sourceVersion'>): Record<string, string> {
  const base = `/v1/clusters/${enc(v.cluster)}/versions/${v.version}`
  const links: Record<string, string> = {
    self: base,
    snapshot: `${base}/snapshot`,
    plan: `${base}/plan`,
    restoreScript: `${base}/restore-script`,
    nodes: `${base}/nodes`,
    versions: `/v1/clusters/${enc(v.cluster)}/versions`,
  }
  if (v.version > 1) links.previous = `/v1/clusters/${enc(v.cluster)}/versions/${v.version - 1}`
  if (v.sourceVersion !== null) links.source = `/v1/clusters/${enc(v.cluster)}/versions/${v.sourceVersion}`
  return links
}

export function withVersionLinks(v: VersionSummary): VersionSummary & { links: Record<string, string> } {
  return { ...v, links: versionLinks(v) }
}

export function withClusterLinks(c: ClusterSummary): ClusterSummary & { links: Record<string, string> } {
  return { ...c, links: clusterLinks(c.name) }
}

export function pageLinks(path: string, next: string | null, limit: number): Record<string, string> {
  const links: Record<string, string> = { self: path, first: `${path}?limit=${limit}` }
  if (next) links.next = `${path}?limit=${limit}&cursor=${enc(next)}`
  return links
}
