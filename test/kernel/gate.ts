/**
 * Gate for kernel test files: as root with netns and both iptables backends available the
 * suites run; otherwise they are skipped with the reason printed once per file, so a skipped
 * kernel suite is never mistaken for a passing one.
 */
import { describe } from 'vitest'
import { kernelAvailable, type KernelAvailability } from './netns.js'

export async function kernelDescribe(file: string, opts: { nfacct?: boolean } = {}): Promise<{ describe: typeof describe; availability: KernelAvailability }> {
  const availability = await kernelAvailable()
  let reason = availability.ok ? '' : availability.reason
  if (!reason && opts.nfacct && !availability.nfacct) reason = 'the nfacct tool is missing (apt-get install -y nfacct)'
  if (reason) {
    console.warn(`[kernel] SKIPPING ${file}: ${reason}`)
    return { describe: describe.skip as typeof describe, availability }
  }
  return { describe, availability }
}
