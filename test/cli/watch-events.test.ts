/**
 * The pure parts of `natplan watch`: the kubectl event-stream parser (src/watch/events.ts), the
 * cluster state it feeds (src/watch/state.ts) and the debounce (src/watch/debounce.ts), on the
 * recorded streams of test/fixtures/watch/ and on hand-made cuts of them.
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { WatchStreamParser, restartIndex, type StreamItem } from '../../src/watch/events.js'
import { ClusterState } from '../../src/watch/state.js'
import { Debouncer, type Clock } from '../../src/watch/debounce.js'
import { withoutNoise } from '../../src/planner/kube/envelope.js'
import { ApiError, Client, retryAfterSeconds } from '../../src/cli/client.js'
import { retryDelay } from '../../src/cli/watch.js'

const WATCH = new URL('../fixtures/watch/', import.meta.url)
const stream = (name: string) => readFileSync(new URL(`${name}.jsonl`, WATCH), 'utf8')
// The objects that exist at the end of the streams, as natplan keeps them (envelope.ts withoutNoise).
const recorded = JSON.parse(readFileSync(new URL('expected.json', WATCH), 'utf8'))
const expected = { ...recorded, items: recorded.items.map(withoutNoise) }

function parse(text: string, chunk = text.length): StreamItem[] {
  const p = new WatchStreamParser()
  const out: StreamItem[] = []
  for (let i = 0; i < text.length; i += chunk) out.push(...p.push(text.slice(i, i + chunk)))
  return [...out, ...p.end()]
}
const summary = (items: StreamItem[]) =>
  items.map((i) =>
    'event' in i ? `${i.event.type} ${(i.event.object.metadata as { name?: string } | undefined)?.name ?? ''}`.trim() : `problem@${i.problem.line}`,
  )

/** Every stream of the fixtures through one state, as `natplan watch` does, then settled. */
function replay(names: string[], chunk?: number): ClusterState {
  const state = new ClusterState()
  for (const name of names)
    for (const item of parse(stream(name), chunk)) {
      if ('problem' in item) {
        if (item.problem.broken) state.streamBroke(name)
      } else state.apply(item.event, name)
    }
  state.settle()
  return state
}

describe('the watch stream parser', () => {
  it('reads kubectl --output-watch-events -o json (one compact event a line) whatever the chunks', () => {
    const whole = summary(parse(stream('services')))
    expect(whole).toEqual([
      'ADDED kubernetes',
      'ADDED api',
      'ADDED cache',
      'ADDED web',
      'MODIFIED web',
      'DELETED cache',
      'BOOKMARK',
      'ERROR',
      'ADDED kubernetes',
      'ADDED search',
      'ADDED web',
      'MODIFIED search',
    ])
    for (const chunk of [1, 7, 100, 4096]) expect(summary(parse(stream('services'), chunk))).toEqual(whole)
  })

  it('reads indented events and objects too (`{` at column 0 starts a value)', () => {
    const events = stream('nodes')
      .trim()
      .split('\n')
      .map((l) => JSON.stringify(JSON.parse(l), null, 4))
    expect(summary(parse(events.join('\n') + '\n', 13))).toEqual(['ADDED worker-a', 'ADDED worker-b', 'ADDED worker-c', 'MODIFIED worker-c'])
  })

  it('reports an event cut off mid-object and reads the restarted kubectl written right after it', () => {
    const items = parse(stream('endpointslices'))
    const problems = items.filter((i) => 'problem' in i)
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatchObject({ problem: { line: 8, broken: true } })
    expect(summary(items).slice(-4)).toEqual(['problem@8', 'ADDED kubernetes', 'ADDED search-4kq9d', 'ADDED web-x7k2p'])
  })

  it('resyncs on a cut followed by a new line, in both layouts, and at the end of input', () => {
    const [first, second] = stream('nodes').split('\n')
    const cutCompact = first!.slice(0, 300) + '\n' + second + '\n'
    expect(summary(parse(cutCompact))).toEqual(['problem@1', 'ADDED worker-b'])
    const pretty = (l: string) => JSON.stringify(JSON.parse(l), null, 4)
    const a = pretty(first!)
    // cut inside a value, and directly inside a string: the restarted writer's `{` lands mid-line
    const cutPretty = a.slice(0, a.indexOf('"kubernetes.io/os"') + 5) + pretty(second!) + '\n'
    expect(summary(parse(cutPretty, 17))).toEqual(['problem@1', 'ADDED worker-b'])
    const cutBetweenKeys = a.slice(0, a.indexOf('"status"')) + pretty(second!) + '\n'
    expect(summary(parse(cutBetweenKeys))).toEqual(['problem@1', 'ADDED worker-b'])
    expect(summary(parse(first! + '\n' + second!.slice(0, 100)))).toEqual(['ADDED worker-a', 'problem@2'])
  })

  it('finds where a restarted writer begins inside broken text, and nowhere in valid text', () => {
    expect(restartIndex('{"type":"ADDED","object":{"kind":"Se{"type":"DELETED","object":{}}')).toBe(36)
    expect(restartIndex('{\n    "kind": "Node",\n    "metadata": {\n        "na{\n    "apiVersion": "v1"')).toBe(51)
    expect(restartIndex(JSON.stringify(JSON.parse(stream('nodes').split('\n')[0]!), null, 4))).toBe(-1)
    expect(restartIndex(stream('configmaps').split('\n')[1]!)).toBe(-1)
  })

  it('drops, without keeping it, a line or object larger than the limit, and reads on', () => {
    const [a, b] = stream('nodes').split('\n')
    const p = new WatchStreamParser(1000)
    const items = [
      ...p.push('{"type":"ADDED","object":{"x":"' + 'y'.repeat(600)),
      ...p.push('y'.repeat(600)),
      ...p.push('"}}\n' + b!.slice(0, 900)),
      ...p.end(),
    ]
    expect(summary(items)).toEqual(['problem@1', 'problem@2'])
    const q = new WatchStreamParser(a!.length + 10)
    expect(summary([...q.push(JSON.stringify(JSON.parse(a!), null, 4) + '\n'), ...q.push(a! + '\n'), ...q.end()])).toEqual(['problem@1', 'ADDED worker-a'])
  })

  it('reports what is not an event and goes on', () => {
    const ok = stream('pods').split('\n')[0]!
    const text = [
      'error: the server doesn\'t have a resource type "endpointslice"',
      JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'bare' } }),
      JSON.stringify({ type: 'SYNC', object: {} }),
      JSON.stringify({ type: 'ADDED' }),
      '[1, 2]',
      ok,
    ].join('\n')
    const items = parse(text)
    expect(summary(items)).toEqual(['problem@1', 'problem@2', 'problem@3', 'problem@4', 'problem@5', 'ADDED search-0'])
    const details = items.flatMap((i) => ('problem' in i ? [i.problem.detail] : []))
    expect(details[1]).toMatch(/--output-watch-events/)
    expect(details[2]).toMatch(/unknown type "SYNC"/)
    expect(details.some((d) => /broken/.test(d))).toBe(false)
  })
})

describe('the cluster state', () => {
  it('converges to the objects that exist at the end of the recorded streams, however they were chunked', () => {
    const names = ['services', 'endpointslices', 'nodes', 'configmaps', 'pods']
    const state = replay(names)
    expect(state.snapshot()).toEqual(expected)
    expect(replay(names, 5).snapshot()).toEqual(expected)
    expect(state.counts()).toEqual({ ConfigMap: 1, Node: 3, Service: 3, EndpointSlice: 3, Endpoints: 0 })
  })

  it("takes a Node's heartbeat as no change, and a change of what kube-proxy reads of it as one", () => {
    const state = new ClusterState()
    const node = (rv: string, heartbeat: string, address: string) => ({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'worker-a', uid: 'u-a', resourceVersion: rv, labels: { 'kubernetes.io/hostname': 'worker-a' } },
      spec: { podCIDR: '10.244.0.0/24', podCIDRs: ['10.244.0.0/24'] },
      status: {
        addresses: [{ type: 'InternalIP', address }],
        conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: heartbeat, lastTransitionTime: '2026-12-01T00:00:00Z' }],
        nodeInfo: { kubeletVersion: 'v1.34.1' },
      },
    })
    expect(state.apply({ type: 'ADDED', object: node('10', '2026-12-03T10:00:00Z', '192.168.50.11') }, 'nodes')).toEqual({ outcome: 'changed' })
    const before = state.snapshotText().sha256
    expect(state.apply({ type: 'MODIFIED', object: node('11', '2026-12-03T10:05:00Z', '192.168.50.11') }, 'nodes')).toEqual({ outcome: 'unchanged' })
    expect(state.snapshotText().sha256).toBe(before)
    expect(state.apply({ type: 'MODIFIED', object: node('12', '2026-12-03T10:10:00Z', '192.168.50.99') }, 'nodes')).toEqual({ outcome: 'changed' })
    expect((state.snapshot().items[0] as { status: unknown }).status).toEqual({ addresses: [{ type: 'InternalIP', address: '192.168.50.99' }] })
  })

  it("removes what a restarted kubectl did not list again, and only that stream's objects of that kind", () => {
    const state = new ClusterState()
    const svc = (name: string, rv: string) => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: 'shop', uid: `u-${name}`, resourceVersion: rv },
      spec: {},
    })
    state.apply({ type: 'ADDED', object: svc('a', '1') }, 'one')
    state.apply({ type: 'ADDED', object: svc('b', '2') }, 'one')
    state.apply({ type: 'ADDED', object: svc('c', '3') }, 'other')
    expect(state.settle()).toEqual([])
    // a new object alone is not a re-list
    state.apply({ type: 'ADDED', object: svc('d', '4') }, 'one')
    expect(state.settle()).toEqual([])
    expect(state.size).toBe(4)
    // the same object at the same resourceVersion again: kubectl listed again; b was deleted meanwhile
    expect(state.apply({ type: 'ADDED', object: svc('a', '1') }, 'one')).toEqual({ outcome: 'unchanged' })
    state.apply({ type: 'ADDED', object: svc('d', '4') }, 'one')
    expect(state.apply({ type: 'MODIFIED', object: svc('d', '5') }, 'one')).toEqual({ outcome: 'changed' })
    expect(state.takeRemoved()).toEqual([{ source: 'one', kind: 'Service', keys: ['Service/shop/b'] }])
    expect(state.snapshot().items.map((i) => (i.metadata as { name: string }).name)).toEqual(['a', 'c', 'd'])
  })

  it('takes the first ADDED run after a broken stream as its re-list, even when every object changed', () => {
    const state = new ClusterState()
    const node = (name: string, rv: string) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name, uid: `u-${name}`, resourceVersion: rv } })
    state.apply({ type: 'ADDED', object: node('n1', '1') }, 's')
    state.apply({ type: 'ADDED', object: node('n2', '1') }, 's')
    state.settle()
    state.streamBroke('s')
    state.apply({ type: 'ADDED', object: node('n1', '7') }, 's')
    expect(state.settle()).toEqual([{ source: 's', kind: 'Node', keys: ['Node//n2'] }])
    // the hint is used up: a later new node is just a new node
    state.apply({ type: 'ADDED', object: node('n3', '8') }, 's')
    expect(state.settle()).toEqual([])
    expect(state.size).toBe(2)
  })

  it("skips, saying why, kinds it does not read, ConfigMaps that are not kube-proxy's and objects the server would refuse", () => {
    const state = new ClusterState()
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'x' } }
    expect(state.apply({ type: 'ADDED', object: pod }, 's')).toMatchObject({ outcome: 'skipped', kind: 'Pod' })
    const cm = (name: string, data: Record<string, string>) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'kube-system' }, data })
    expect(state.apply({ type: 'ADDED', object: cm('coredns', { Corefile: '.:53 {}' }) }, 's')).toMatchObject({
      outcome: 'skipped',
      detail: expect.stringMatching(/not kube-proxy's/),
    })
    expect(state.apply({ type: 'ADDED', object: cm('kube-proxy', { other: 'x' }) }, 's')).toMatchObject({
      outcome: 'skipped',
      detail: expect.stringMatching(/config\.conf/),
    })
    expect(state.apply({ type: 'ADDED', object: cm('kube-proxy', { 'config.conf': 'mode: iptables\n' }) }, 's')).toEqual({ outcome: 'changed' })
    const badPort = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'bad', namespace: 'x' }, spec: { ports: [{ port: -1 }] } }
    expect(state.apply({ type: 'ADDED', object: badPort }, 's')).toMatchObject({ outcome: 'skipped', detail: expect.stringMatching(/not valid/) })
    expect(state.apply({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 1 (2)' } }, 's')).toEqual({
      outcome: 'error',
      detail: '410 Expired: too old resource version: 1 (2)',
    })
    expect(state.apply({ type: 'DELETED', object: cm('kube-proxy', {}) }, 's')).toEqual({ outcome: 'changed' })
    expect(state.size).toBe(0)
  })
})

describe('the debounce', () => {
  function fakeClock() {
    let now = 0
    const timers = new Map<number, { at: number; fn: () => void }>()
    let next = 1
    const clock: Clock = {
      now: () => now,
      setTimeout: (fn, ms) => (timers.set(next, { at: now + ms, fn }), next++),
      clearTimeout: (h) => timers.delete(h as number),
    }
    const advance = (ms: number) => {
      const end = now + ms
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0]
        if (!due) break
        timers.delete(due[0])
        now = due[1].at
        due[1].fn()
      }
      now = end
    }
    return { clock, advance, now: () => now }
  }

  it('fires once after the quiet period, and at the maximum delay under steady churn', () => {
    const { clock, advance, now } = fakeClock()
    const fired: number[] = []
    const d = new Debouncer({ quietMs: 2000, maxDelayMs: 30_000, clock }, () => fired.push(now()))
    d.touch()
    advance(1500)
    d.touch()
    advance(1999)
    expect(fired).toEqual([])
    advance(1)
    expect(fired).toEqual([3500])
    expect(d.pending).toBe(false)
    // a change every second: quiet never comes, the maximum delay does
    for (let i = 0; i < 40; i++) {
      d.touch()
      advance(1000)
    }
    expect(fired).toEqual([3500, 3500 + 30_000])
    // then quiet: the quiet period after the last change
    advance(5000)
    expect(fired).toEqual([3500, 3500 + 30_000, 3500 + 39_000 + 2000])
  })

  it('flushes what is pending, and nothing when nothing is', () => {
    const { clock } = fakeClock()
    let fired = 0
    const d = new Debouncer({ quietMs: 2000, maxDelayMs: 30_000, clock }, () => fired++)
    expect(d.flush()).toBe(false)
    d.touch()
    expect(d.flush()).toBe(true)
    expect(fired).toBe(1)
    expect(d.flush()).toBe(false)
  })
})

describe("the server's Retry-After", () => {
  it('is read as seconds or as an HTTP-date, and ignored when unreadable', () => {
    const now = Date.parse('2026-12-03T10:00:00Z')
    expect(retryAfterSeconds('7', now)).toBe(7)
    expect(retryAfterSeconds('Thu, 03 Dec 2026 10:00:12 GMT', now)).toBe(12)
    expect(retryAfterSeconds('Thu, 03 Dec 2026 09:00:00 GMT', now)).toBe(0)
    expect(retryAfterSeconds('soon', now)).toBeNull()
    expect(retryAfterSeconds(null, now)).toBeNull()
  })

  it('reaches ApiError from a real HTTP answer, and lengthens the backoff up to its cap', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/problem+json', 'retry-after': '5' })
      res.end(JSON.stringify({ title: 'Service Unavailable', status: 503, detail: 'busy' }))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = server.address() as AddressInfo
      const err = await new Client({ url: `http://127.0.0.1:${port}` }).pushSnapshot('prod', '{"kind":"List","items":[]}').catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ApiError)
      expect((err as ApiError).retryAfterSeconds).toBe(5)
      // first failure: backoff 0.5 s, the server asked for 5 s
      expect(retryDelay(1, err)).toBe(5000)
      // the backoff past what was asked wins; neither passes the 30 s cap
      expect(retryDelay(6, err)).toBe(16_000)
      expect(retryDelay(1, new ApiError(503, 'x', '', 3600))).toBe(30_000)
      expect(retryDelay(1, new TypeError('fetch failed'))).toBe(500)
    } finally {
      server.close()
    }
  })
})
