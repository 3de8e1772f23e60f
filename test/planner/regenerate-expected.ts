/**
 * Writes expected.txt for natplan's own conformance cases (folders named `natplan-*`) from the
 * current planner. Use only after reviewing the diff line by line against the reference; the
 * flows.json of each case is the independent, hand-written check.
 *   node --import tsx test/planner/regenerate-expected.ts
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { normaliseRestore, plan, renderRestore, toEnvelope } from '../../src/planner/index.js'

const ROOT = join(import.meta.dirname, '../fixtures/conformance')
for (const name of readdirSync(ROOT).filter((n) => n.startsWith('natplan-'))) {
  const r = toEnvelope(JSON.parse(readFileSync(join(ROOT, name, 'snapshot.json'), 'utf8')))
  if (!r.ok) throw new Error(`${name}: ${JSON.stringify(r.issues)}`)
  const p = plan(r.envelope)
  writeFileSync(join(ROOT, name, 'expected.txt'), p.families.map((fp) => normaliseRestore(renderRestore(fp))).join('# IPv6\n'))
  console.log(name, p.warnings.map((w) => w.code).join(',') || 'no warnings')
}
