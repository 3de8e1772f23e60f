/**
 * Generated sources stay what their generators write: src/planner/iptables/sha256.ts comes from
 * scripts/sha256-gen.mjs (an edit by hand would be lost at the next generation).
 */
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

describe('generated sources', () => {
  it('src/planner/iptables/sha256.ts is what scripts/sha256-gen.mjs writes', () => {
    const script = join(import.meta.dirname, '../../scripts/sha256-gen.mjs')
    expect(() => execFileSync(process.execPath, [script, '--check'], { stdio: 'pipe' })).not.toThrow()
  })
})
