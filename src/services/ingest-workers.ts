/**
 * The main thread's side of the ingest worker threads (./ingest-prepare.ts does the work): N
 * single-thread piscina pools, a cluster's tasks always in the same one — its memory of the
 * cluster and its ingests in flight live in that thread. With 0 threads (NATPLAN_INGEST_WORKERS=0)
 * the same preparer runs on the event loop, as before workers existed.
 *
 * A request body crosses as bytes and is moved, not copied (transferList); the answers are
 * structured clones of plain data. A DomainError thrown in a worker comes back as data and is
 * thrown here again as the same kind of error, so the HTTP layer maps it as if it were local.
 */
import { createHash } from 'node:crypto'
import { Piscina } from 'piscina'
import { BadRequestError, DomainError, LimitError, UnavailableError, UnprocessableError, ValidationError } from '../errors.js'
import { IngestPreparer, type Answer, type ErrorData, type Task } from './ingest-prepare.js'

function domainError(e: ErrorData): DomainError {
  if (e.limit) return new LimitError(e.status, e.detail, e.limit, e.issues)
  switch (e.name) {
    case 'ValidationError':
      return new ValidationError(e.detail, e.issues)
    case 'BadRequestError':
      return new BadRequestError(e.detail, e.issues)
    case 'UnprocessableError':
      return new UnprocessableError(e.detail, e.issues)
    default:
      return new DomainError(e.status, e.title, e.detail, e.issues)
  }
}

/** Running from TypeScript sources (tests, `npm run dev`, benchmarks): the worker loads them through tsx. */
const fromSources = import.meta.url.endsWith('.ts')

/**
 * The thread preparing an ingest stopped (it crashed or was killed): piscina starts another, with
 * no memory of the ingests in flight, so those answer 503 and their clients retry.
 */
export class IngestWorkerStoppedError extends UnavailableError {
  readonly retryAfterSeconds = 1
  constructor() {
    super('The ingest worker thread stopped while preparing this snapshot and has been restarted; retry.')
  }
}

/** The tasks that continue an ingest begun by `validate`, on the thread that holds it. */
const CONTINUES = new Set<Task['op']>(['plan', 'full', 'stats', 'commit', 'discard'])

export class IngestWorkers {
  private pools: Piscina[] | undefined
  private local: IngestPreparer | undefined
  /** Per pool, how many of its threads have stopped: a thread's ingests live and die with it. */
  private generations: number[] = []
  /**
   * Ingests in flight, by the token this side hands out: the thread's own token and the
   * generation of the pool's thread it lives in (a restarted thread counts its tokens from 1 again).
   */
  private begun = new Map<number, { generation: number; token: number }>()
  private nextToken = 1

  /** `nice`: the threads' CPU priority below the main thread's (./ingest-worker.ts), 0 to 19. */
  constructor(
    readonly threads: number,
    readonly nice = 10,
  ) {}

  private indexFor(cluster: string): number {
    return this.threads === 1 ? 0 : createHash('sha256').update(cluster).digest().readUInt32BE(0) % this.threads
  }

  private poolAt(i: number): Piscina {
    this.pools ??= Array.from({ length: this.threads }, (_, k) => {
      this.generations[k] = 0
      const pool = new Piscina({
        filename: new URL(fromSources ? './ingest-worker.ts' : './ingest-worker.js', import.meta.url).href,
        minThreads: 1,
        maxThreads: 1,
        workerData: { nice: this.nice },
        // The thread holds the clusters' memory: it is never retired for being idle.
        idleTimeout: 2 ** 31 - 1,
        ...(fromSources && { execArgv: ['--import', 'tsx'] }),
      })
      pool.on('workerDestroy', () => this.generations[k]!++)
      return pool
    })
    return this.pools[i]!
  }

  async run<T>(cluster: string, task: Task): Promise<T> {
    let answer: Answer<unknown>
    if (this.threads === 0) answer = (this.local ??= new IngestPreparer(8, false)).handle(task)
    else {
      const transferList: ArrayBuffer[] = []
      if (task.op === 'validate' && task.body) {
        let bytes = task.body.bytes
        // Only a buffer of its own can be moved (small Buffers share node's allocation pool).
        if (bytes.byteOffset !== 0 || bytes.byteLength !== bytes.buffer.byteLength) bytes = new Uint8Array(bytes)
        task = { ...task, body: { ...task.body, bytes } }
        transferList.push(bytes.buffer as ArrayBuffer)
      }
      answer = await this.runOnPool(this.indexFor(cluster), task, transferList)
    }
    if (!answer.ok) throw domainError(answer.error)
    return answer.value as T
  }

  /**
   * A task on pool i. A task that continues an ingest must reach the thread that began it: after
   * that thread stopped, its successor has no such ingest (and may hand out the same token to
   * another), so the ingest is over. A task in flight when its thread stops is over too.
   */
  private async runOnPool(i: number, task: Task, transferList: ArrayBuffer[]): Promise<Answer<unknown>> {
    const pool = this.poolAt(i)
    const generation = this.generations[i]!
    if ('token' in task && CONTINUES.has(task.op)) {
      const begun = this.begun.get(task.token)
      if (task.op === 'commit' || task.op === 'discard') this.begun.delete(task.token)
      if (begun === undefined || begun.generation !== generation) {
        if (task.op === 'discard') return { ok: true, value: undefined }
        throw new IngestWorkerStoppedError()
      }
      task = { ...task, token: begun.token }
    }
    let answer: Answer<unknown>
    try {
      answer = (await pool.run(task, { transferList })) as Answer<unknown>
    } catch (err) {
      if (this.generations[i] !== generation) throw new IngestWorkerStoppedError()
      throw err
    }
    if (task.op === 'validate' && answer.ok) {
      const validated = answer.value as { token: number }
      const token = this.nextToken++
      this.begun.set(token, { generation, token: validated.token })
      answer = { ...answer, value: { ...validated, token } }
    }
    return answer
  }

  /** Starts the threads and waits until each has loaded its code (a server does this before it listens). */
  async start(): Promise<void> {
    if (this.threads === 0) return
    await Promise.all(Array.from({ length: this.threads }, (_, i) => this.poolAt(i).run({ op: 'discard', token: 0 })))
  }

  async close(): Promise<void> {
    const pools = this.pools ?? []
    this.pools = undefined
    await Promise.all(pools.map((p) => p.destroy()))
  }
}
