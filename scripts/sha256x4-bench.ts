/**
 * Endpoint chain names, one at a time (sepChainNameOf) against batched (sepChainNamesOf): 10k
 * service ports x 10 endpoints `10.x.y.z:8080`, warm, alternating in one process (the machine
 * is shared and noisy), medians. Usage: node --import tsx scripts/sha256x4-bench.ts
 */
import { prefixState, sepChainNameOf, sepChainNamesOf, type PrefixState } from '../src/planner/iptables/chains.js'

const PORTS = 10_000
const PER = 10
const prefixes: string[] = []
const states: (PrefixState | null)[] = []
const ids: { pre: string; ip: string; post: string }[][] = []
for (let i = 0; i < PORTS; i++) {
  const prefix = `ns-${i % 97}/svc-${i}:httptcp`
  prefixes.push(prefix)
  states.push(prefixState(prefix))
  const list = []
  for (let j = 0; j < PER; j++) {
    const k = i * PER + j
    list.push({ pre: '', ip: `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`, post: ':8080' })
  }
  ids.push(list)
}

let sink = 0
function scalar(): number {
  const t = performance.now()
  for (let i = 0; i < PORTS; i++) {
    const ps = states[i]!, prefix = prefixes[i]!, list = ids[i]!
    for (let j = 0; j < list.length; j++) {
      const id = list[j]!
      sink += sepChainNameOf(ps, prefix, id.pre, id.ip, id.post).length
    }
  }
  return performance.now() - t
}
function batched(): number {
  const t = performance.now()
  for (let i = 0; i < PORTS; i++) sink += sepChainNamesOf(states[i]!, prefixes[i]!, ids[i]!).length
  return performance.now() - t
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
const a: number[] = [], b: number[] = []
for (let r = 0; r < 40; r++) {
  const x = scalar(), y = batched()
  if (r >= 5) { a.push(x); b.push(y) }
}
console.log(`100k ids, batches of ${PER}: sepChainNameOf loop ${median(a).toFixed(1)} ms, sepChainNamesOf ${median(b).toFixed(1)} ms (median of ${a.length} alternating runs) ${sink > 0 ? '' : '!'}`)
