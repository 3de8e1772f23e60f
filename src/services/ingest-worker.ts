/**
 * The ingest worker thread's entry (piscina): one IngestPreparer per thread, holding the memory
 * of the clusters this thread prepares (./ingest-workers.ts sends a cluster's tasks always to the
 * same thread).
 */
import { Piscina } from 'piscina'
import { IngestPreparer, type Answer, type Task } from './ingest-prepare.js'

const preparer = new IngestPreparer()

export default function handle(task: Task): unknown {
  const answer: Answer<unknown> = preparer.handle(task)
  if (!answer.ok || !answer.transfer) return answer
  // The packed rows' buffers are moved to the main thread, not copied (piscina's Transferable).
  const { transfer, ...value } = answer
  return Piscina.move({ [Piscina.transferableSymbol]: transfer, [Piscina.valueSymbol]: value } as unknown as Parameters<typeof Piscina.move>[0])
}
