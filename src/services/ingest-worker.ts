/**
 * The ingest worker thread's entry (piscina): one IngestPreparer per thread, holding the memory
 * of the clusters this thread prepares (./ingest-workers.ts sends a cluster's tasks always to the
 * same thread).
 */
import { IngestPreparer, type Answer, type Task } from './ingest-prepare.js'

const preparer = new IngestPreparer()

export default function handle(task: Task): Answer<unknown> {
  return preparer.handle(task)
}
