/** Test-only packet tracer; filled in below. */
import type { Plan } from '../../src/planner/index.js'
export interface FlowCase {
  name: string
}
export function checkFlows(_p: Plan, _flows: FlowCase[]): string[] {
  throw new Error('not implemented yet')
}
