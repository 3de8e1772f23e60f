/**
 * Ingests of one cluster, one at a time and in arrival order, in this process: a cluster's
 * ingests serialise on its row lock anyway (store/versions.ts lockCluster), and waiting here
 * instead of inside a transaction keeps the connection pool free for everyone else. A waiter
 * gives up after `waitMs` with a 503 that says the cluster is busy (not that the database is
 * away); identical content already queued or running is not ingested twice: every caller gets
 * the one result.
 */
import { DomainError } from '../errors.js'

/** The cluster has more ingests queued than it can take in time: retry later. */
export class BusyError extends DomainError {
  readonly retryAfterSeconds = 2
  constructor(detail: string) {
    super(503, 'Service Unavailable', detail)
  }
}

interface Lane {
  tail: Promise<unknown>
  waiting: number
  /** Content sha256 → the ingest of that content queued or running. */
  byContent: Map<string, Promise<unknown>>
}

export interface IngestQueueOptions {
  /** How long an ingest may wait for the ones before it (ms). */
  waitMs: number
  /** How many ingests of one cluster may wait at once. */
  maxWaiting: number
}

export class IngestQueue {
  private readonly lanes = new Map<string, Lane>()

  constructor(private readonly opts: IngestQueueOptions) {}

  /**
   * Runs `fn` after the cluster's earlier ingests, or joins the one of the same content. `join`
   * turns the other caller's result into this caller's (e.g. "created" becomes "identical").
   */
  async run<T>(cluster: string, content: string, fn: () => Promise<T>, join: (theirs: T) => T): Promise<T> {
    let lane = this.lanes.get(cluster)
    if (!lane) this.lanes.set(cluster, (lane = { tail: Promise.resolve(), waiting: 0, byContent: new Map() }))
    const same = lane.byContent.get(content) as Promise<T> | undefined
    if (same) return join(await same)
    if (lane.waiting >= this.opts.maxWaiting) {
      throw new BusyError(`cluster ${cluster} has ${lane.waiting} snapshots waiting to be stored; retry shortly`)
    }
    const l = lane
    l.waiting++
    const before = l.tail
    let timer: NodeJS.Timeout | undefined
    const turn = new Promise<void>((resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new BusyError(`cluster ${cluster}: waited ${Math.round(this.opts.waitMs / 1000)} s for the snapshots before this one to be stored; retry shortly`),
          ),
        this.opts.waitMs,
      )
      before.then(
        () => resolve(),
        () => resolve(),
      )
    })
    const mine = (async () => {
      try {
        await turn
      } finally {
        clearTimeout(timer)
        l.waiting--
      }
      return fn()
    })()
    // The next ingest waits for this one to finish either way (or to give up waiting).
    l.tail = mine.catch(() => {})
    l.byContent.set(content, mine)
    try {
      return await mine
    } finally {
      if (l.byContent.get(content) === mine) l.byContent.delete(content)
      if (l.waiting === 0 && l.byContent.size === 0 && this.lanes.get(cluster) === l) this.lanes.delete(cluster)
    }
  }
}
