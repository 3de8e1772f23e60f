/**
 * The ingest worker thread's entry (piscina): one IngestPreparer per thread, holding the memory
 * of the clusters this thread prepares (./ingest-workers.ts sends a cluster's tasks always to the
 * same thread).
 */
import { readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'
import { Piscina } from 'piscina'
import { IngestPreparer, type Answer, type Task } from './ingest-prepare.js'

const preparer = new IngestPreparer()

/**
 * An ingest is background work and a read is someone waiting: on a machine with few cores the
 * thread yields the CPU to the main thread, which serves the reads. Linux gives every thread its
 * own nice value (setpriority(2) on the thread id, read from /proc/thread-self); elsewhere, or
 * without the right to, nothing changes. NATPLAN_INGEST_NICE (default 10; 0 leaves it alone).
 */
function lowerPriority(nice: number): void {
  if (nice === 0) return
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop())
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, nice)
  } catch {
    // Not Linux, or not permitted: the thread keeps the process's priority.
  }
}
lowerPriority(Number((Piscina.workerData as { nice?: number } | undefined)?.nice ?? 10))

export default function handle(task: Task): unknown {
  const answer: Answer<unknown> = preparer.handle(task)
  if (!answer.ok || !answer.transfer) return answer
  // The packed rows' buffers are moved to the main thread, not copied (piscina's Transferable).
  const { transfer, ...value } = answer
  return Piscina.move({ [Piscina.transferableSymbol]: transfer, [Piscina.valueSymbol]: value } as unknown as Parameters<typeof Piscina.move>[0])
}
