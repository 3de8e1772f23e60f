/**
 * Stored versions are checked before their content is served. Earlier natplan releases accepted
 * any name and any clusterCIDR string, so a version stored then may carry words that end a comment or
 * a line of the restore input (src/planner/iptables/words.ts). Such a version stays listed, but
 * its plan, scripts, snapshot, diffs, rollbacks, traces and backups are refused with a problem
 * naming the object, never served to a node.
 *
 * The check covers every input word those versions could write verbatim: a segment's Service
 * port name (every comment a service segment writes is made of it) and the proxy settings (the
 * clusterCIDR reached rules as given; everything else was parsed and re-printed). Versions are
 * immutable, so each verdict is kept (per plan and snapshot row).
 */
import { LRUCache } from 'lru-cache'
import { isSafeWord, ProxyConfigSchema } from '../planner/index.js'
import { UnprocessableError, type ProblemIssue } from '../errors.js'
import type { Queryable } from '../store/db.js'
import { planSegmentNames } from '../store/plans.js'
import { loadSnapshotProxy } from '../store/snapshots.js'

/** What a check needs of a version: its rows, and its name for the problem. */
export interface StoredVersionRef {
  cluster: string
  version: number
  planId: number
  snapshotId: number
}

/** The problems of a stored version, [] when it may be served. */
async function findProblems(db: Queryable, row: StoredVersionRef): Promise<ProblemIssue[]> {
  const issues: ProblemIssue[] = []
  const proxy = ProxyConfigSchema.safeParse(await loadSnapshotProxy(db, row.snapshotId))
  if (!proxy.success) {
    for (const i of proxy.error.issues.slice(0, 10)) issues.push({ pointer: `/proxy/${i.path.join('/')}`, detail: `proxy setting: ${i.message}` })
  }
  for (const seg of await planSegmentNames(db, row.planId)) {
    if (seg.service !== null && !isSafeWord(seg.service)) {
      issues.push({ pointer: '', detail: `Service port ${JSON.stringify(seg.service)}: its name cannot be written into an iptables rule` })
      if (issues.length >= 10) break
    }
  }
  return issues
}

/** Verdicts per database (row ids are per database), by `planId:snapshotId`. */
const verdictsOf = new WeakMap<object, LRUCache<string, ProblemIssue[]>>()

/**
 * Throws a 422 naming the offending objects when `row`'s content must not be served. `owner` is
 * the database handle the verdicts belong to (the pool).
 */
export async function assertServable(owner: object, db: Queryable, row: StoredVersionRef): Promise<void> {
  let verdicts = verdictsOf.get(owner)
  if (!verdicts) verdictsOf.set(owner, (verdicts = new LRUCache<string, ProblemIssue[]>({ max: 4096 })))
  const key = `${row.planId}:${row.snapshotId}`
  let issues = verdicts.get(key)
  if (issues === undefined) {
    issues = await findProblems(db, row)
    verdicts.set(key, issues)
  }
  if (issues.length === 0) return
  throw new UnprocessableError(
    `version ${row.version} of cluster ${row.cluster} was stored before natplan validated its input, ` +
      `and holds words that could change a node's firewall beyond kube-proxy's rules; it is not served (${issues[0]!.detail})`,
    issues,
  )
}
