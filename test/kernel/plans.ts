/** Planner glue for the kernel tests: snapshot file -> rendered restore scripts per family. */
import { readFileSync } from 'node:fs'
import { plan, renderRestore, toEnvelope, type Envelope, type Flavour, type Plan } from '../../src/planner/index.js'
import type { IpFamily } from './netns.js'

export function envelopeOf(doc: unknown): Envelope {
  const r = toEnvelope(doc)
  if (!r.ok) throw new Error(`snapshot rejected by toEnvelope: ${JSON.stringify(r.issues.slice(0, 5))}`)
  return r.envelope
}

export interface Rendered {
  family: IpFamily
  text: string
}

export function render(p: Plan, flavour: Flavour): Rendered[] {
  return p.families.map((fp) => ({ family: fp.family === 'IPv6' ? 6 : 4, text: renderRestore(fp, { flavour }) }))
}

export function planFile(path: string, flavour: Flavour): Rendered[] {
  return render(plan(envelopeOf(JSON.parse(readFileSync(path, 'utf8')))), flavour)
}
