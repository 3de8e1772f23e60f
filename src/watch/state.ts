/**
 * The cluster as the watch streams have told it so far: the objects natplan reads, keyed by
 * kind/namespace/name, and the snapshot they make — a kubectl `List`, as `kubectl get … -o json`
 * prints one, which the server's toEnvelope (src/planner/kube/envelope.ts) accepts as it is.
 *
 * Restarts. When kubectl's watch ends (the API server closes watches after a while, or answers
 * 410 Gone) the loop around it starts a new kubectl, which prints an ADDED event for every object
 * that exists (staging/src/k8s.io/kubectl/pkg/cmd/get/get.go, GetOptions.watch) and nothing for
 * the ones deleted while no kubectl was watching. Such a re-list is told apart from live events
 * by an ADDED event for an object already held with the same uid and resourceVersion — the API
 * server never sends one twice in a watch — or by any ADDED after the stream broke or answered
 * an ERROR. A re-list ends at the next event of that kind that is not ADDED, or when the stream
 * has been quiet (`settle`, called before each push: kubectl prints its whole list at once, after
 * it has received it); then the objects of that kind the stream had given and did not list again
 * are removed. A kind the new kubectl lists no object of at all cannot be told from a kubectl that
 * has not printed yet, so its objects stay (a cluster always has the `kubernetes` Service, its
 * EndpointSlice, and nodes).
 */
import { createHash } from 'node:crypto'
import { KIND_SCHEMAS } from '../planner/kube/schemas.js'
import { withoutNoise } from '../planner/kube/envelope.js'
import { isKubeProxyConfigMap, settingsFromConfigMap } from '../planner/kube/settings.js'
import type { WatchEvent } from './events.js'

/** The kinds the planner reads, in snapshot order; other ConfigMaps than kube-proxy's are not read. */
export const READ_KINDS = ['ConfigMap', 'Node', 'Service', 'EndpointSlice', 'Endpoints'] as const
export type ReadKind = (typeof READ_KINDS)[number]
const NAMESPACED: ReadonlySet<string> = new Set(['ConfigMap', 'Service', 'EndpointSlice', 'Endpoints'])

interface Held {
  kind: ReadKind
  object: Record<string, unknown>
  /** The object's JSON: telling a real change from the same object sent again. */
  json: string
  uid: unknown
  resourceVersion: unknown
  /** The stream that gave it last. */
  source: string
}

/** One stream's run of ADDED events of one kind. */
interface Run {
  keys: Set<string>
  relist: boolean
}

export type ApplyResult =
  /** The state changed. */
  | { outcome: 'changed' }
  /** Read, and the state is as it was (the same object again, a BOOKMARK, a DELETED of an object not held). */
  | { outcome: 'unchanged' }
  /** Not applied; `detail` says why, for the report. */
  | { outcome: 'skipped'; detail: string; kind?: string }
  /** An ERROR event: the watch ended; `detail` is the Status it carried. */
  | { outcome: 'error'; detail: string }

export interface Removed {
  source: string
  kind: ReadKind
  keys: string[]
}

export interface ListSnapshot {
  apiVersion: 'v1'
  kind: 'List'
  metadata: { resourceVersion: '' }
  items: Record<string, unknown>[]
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** `kind/namespace/name` (namespace empty for nodes). */
export function objectKey(kind: string, namespace: unknown, name: unknown): string {
  return `${kind}/${typeof namespace === 'string' ? namespace : ''}/${String(name)}`
}

/** The Status of an ERROR event as one line: `410 Expired: too old resource version: 1 (5000)`. */
function statusLine(o: Record<string, unknown>): string {
  const parts = [o.code, o.reason].filter((p) => p !== undefined && p !== '').join(' ')
  return [parts, typeof o.message === 'string' ? o.message : ''].filter(Boolean).join(': ') || JSON.stringify(o)
}

export class ClusterState {
  private readonly held = new Map<string, Held>()
  private readonly runs = new Map<string, Map<ReadKind, Run>>()
  /**
   * Streams that broke or answered an ERROR: the kubectl after them lists everything again. The
   * set holds the kinds whose first run since has been taken as that re-list (a later ADDED is
   * a new object).
   */
  private readonly restarted = new Map<string, Set<ReadKind>>()
  /** What ended re-lists removed, not yet taken (takeRemoved). */
  private removed: Removed[] = []

  /** A stream broke (an object cut off): what comes next is a restarted kubectl's list. */
  streamBroke(source: string): void {
    this.restarted.set(source, new Set())
  }

  apply(event: Pick<WatchEvent, 'type' | 'object'>, source: string): ApplyResult {
    const o = event.object
    if (event.type === 'BOOKMARK') return { outcome: 'unchanged' }
    if (event.type === 'ERROR') {
      this.restarted.set(source, new Set())
      return { outcome: 'error', detail: statusLine(o) }
    }
    const kind = o.kind
    if (typeof kind !== 'string') return { outcome: 'skipped', detail: `a ${event.type} event whose object has no kind` }
    if (!(READ_KINDS as readonly string[]).includes(kind))
      return { outcome: 'skipped', kind, detail: `a ${kind} event: natplan reads ${READ_KINDS.join(', ')} (kube-proxy's ConfigMap only)` }
    const k = kind as ReadKind
    const meta = isObject(o.metadata) ? o.metadata : {}
    if (typeof meta.name !== 'string' || meta.name === '') return { outcome: 'skipped', kind, detail: `a ${kind} without metadata.name` }
    if (NAMESPACED.has(kind) && (typeof meta.namespace !== 'string' || meta.namespace === ''))
      return { outcome: 'skipped', kind, detail: `${kind} ${meta.name} without metadata.namespace` }
    const key = objectKey(kind, meta.namespace, meta.name)
    const what = `${kind} ${NAMESPACED.has(kind) ? `${String(meta.namespace)}/` : ''}${meta.name}`
    if (kind === 'ConfigMap' && !isKubeProxyConfigMap(o))
      return { outcome: 'skipped', kind, detail: `${what}: a ConfigMap that is not kube-proxy's (natplan reads kube-system/kube-proxy only)` }

    if (event.type === 'DELETED') {
      this.endRun(source, k)
      return this.held.delete(key) ? { outcome: 'changed' } : { outcome: 'unchanged' }
    }

    const invalid = this.invalid(k, o)
    if (invalid) return { outcome: 'skipped', kind, detail: `${what}: ${invalid}` }
    const before = this.held.get(key)
    if (event.type === 'ADDED') {
      const fresh = !this.runs.get(source)?.has(k)
      const run = this.run(source, k)
      run.keys.add(key)
      const hinted = this.restarted.get(source)
      if (fresh && hinted && !hinted.has(k)) {
        hinted.add(k)
        run.relist = true
      }
      if (before && before.uid === meta.uid && before.resourceVersion === meta.resourceVersion) run.relist = true
    } else this.endRun(source, k)
    // Held as the server keeps it (no managedFields; of a Node's status only its addresses), so
    // a kubelet's heartbeat changes nothing here and is not pushed.
    const kept = withoutNoise(o)
    const json = JSON.stringify(kept)
    this.held.set(key, { kind: k, object: kept, json, uid: meta.uid, resourceVersion: meta.resourceVersion, source })
    return before?.json === json ? { outcome: 'unchanged' } : { outcome: 'changed' }
  }

  /** Why the server would refuse this object (its schema, a config.conf that does not parse), or null. */
  private invalid(kind: ReadKind, o: Record<string, unknown>): string | null {
    const r = KIND_SCHEMAS[kind].safeParse(o)
    if (!r.success) {
      const first = r.error.issues[0]!
      return `not valid, skipped: ${first.path.join('.') || '/'}: ${first.message}`
    }
    if (kind === 'ConfigMap') {
      const text = isObject(o.data) ? o.data['config.conf'] : undefined
      const settings = settingsFromConfigMap(text, '')
      if ('issues' in settings) return `not kube-proxy's configuration, skipped: ${settings.issues[0]!.detail}`
    }
    return null
  }

  private run(source: string, kind: ReadKind): Run {
    let byKind = this.runs.get(source)
    if (!byKind) this.runs.set(source, (byKind = new Map()))
    let run = byKind.get(kind)
    if (!run) byKind.set(kind, (run = { keys: new Set(), relist: false }))
    return run
  }

  /** End a stream's run of ADDED events of a kind; a re-list removes what it did not list again. */
  private endRun(source: string, kind: ReadKind): void {
    const run = this.runs.get(source)?.get(kind)
    if (!run) return
    this.runs.get(source)!.delete(kind)
    if (!run.relist) return
    const gone: string[] = []
    for (const [key, h] of this.held) if (h.kind === kind && h.source === source && !run.keys.has(key)) gone.push(key)
    for (const key of gone) this.held.delete(key)
    if (gone.length > 0) this.removed.push({ source, kind, keys: gone })
  }

  /** The objects ended re-lists removed since the last call. */
  takeRemoved(): Removed[] {
    const out = this.removed
    this.removed = []
    return out
  }

  /**
   * The streams have been quiet: every run of ADDED events has ended (re-lists remove what they
   * did not list again). A stream that restarted stays marked until its new kubectl has listed
   * something.
   */
  settle(): Removed[] {
    for (const [source, byKind] of [...this.runs]) {
      for (const kind of [...byKind.keys()]) this.endRun(source, kind)
      this.restarted.delete(source)
    }
    return this.takeRemoved()
  }

  /** Add an object from outside the streams (`--config FILE`); the same checks as an event. */
  put(object: Record<string, unknown>, source: string): ApplyResult {
    return this.apply({ type: 'MODIFIED', object }, source)
  }

  /** Objects held. */
  get size(): number {
    return this.held.size
  }

  counts(): Record<ReadKind, number> {
    const out = Object.fromEntries(READ_KINDS.map((k) => [k, 0])) as Record<ReadKind, number>
    for (const h of this.held.values()) out[h.kind]++
    return out
  }

  /** The state as a kubectl List: kinds in READ_KINDS order, then by namespace and name. */
  snapshot(): ListSnapshot {
    const order = (k: ReadKind) => READ_KINDS.indexOf(k)
    const entries = [...this.held.entries()].sort(([ka, a], [kb, b]) => order(a.kind) - order(b.kind) || (ka < kb ? -1 : ka > kb ? 1 : 0))
    return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items: entries.map(([, h]) => h.object) }
  }

  /** The snapshot's text and its sha256: equal hashes, nothing new to push. */
  snapshotText(): { text: string; sha256: string } {
    const text = JSON.stringify(this.snapshot())
    return { text, sha256: createHash('sha256').update(text).digest('hex') }
  }
}
