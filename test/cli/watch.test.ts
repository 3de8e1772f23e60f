/**
 * `natplan watch`, the built CLI spawned for real against a real app on 127.0.0.1, fed the
 * recorded kubectl watch streams of test/fixtures/watch/ from files and through a real pipe
 * (its stdin), in chunks with pauses. What is checked is what the server stored: its versions
 * and the snapshot of the last one, against test/fixtures/watch/expected.json (the objects that
 * exist at the end of the streams).
 */
import { withoutNoise } from '../../src/planner/kube/envelope.js'
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml, stringify as toYaml } from 'yaml'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { restartIndex } from '../../src/watch/events.js'
import { startTestApp, uniqueName, type TestApp } from '../api/helpers.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const CLI = `${ROOT}dist/src/cli.js`
const WATCH = fileURLToPath(new URL('../fixtures/watch/', import.meta.url))
const TOKEN = 'watch-secret-0123456789'
// The objects the streams end in, as natplan keeps them (src/planner/kube/envelope.ts withoutNoise).
const recorded = JSON.parse(readFileSync(`${WATCH}expected.json`, 'utf8'))
const expected = { ...recorded, items: recorded.items.map(withoutNoise) }
/** Items in one order (the server stores them in its own), keys sorted as the fixture's. */
const byName = (items: any[]) => (sortedKeys(items) as any[]).sort((a, b) => itemKey(a).localeCompare(itemKey(b)))
const itemKey = (o: any) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`
const lines = (name: string) => readFileSync(`${WATCH}${name}.jsonl`, 'utf8').split(/(?<=\n)/)
const KINDS = ['services', 'endpointslices', 'nodes', 'configmaps', 'pods'].map((k) => `${WATCH}${k}.jsonl`)

/** Build when dist is older than the sources of the command (`npm test` builds first anyway). */
beforeAll(() => {
  const sources = [`${ROOT}src/cli.ts`, `${ROOT}src/cli/watch.ts`, ...readdirSync(`${ROOT}src/watch`).map((f) => `${ROOT}src/watch/${f}`)]
  const stale = !existsSync(CLI) || sources.some((s) => statSync(CLI).mtimeMs < statSync(s).mtimeMs)
  if (stale) {
    const build = spawnSync(process.execPath, [`${ROOT}node_modules/typescript/bin/tsc`, '-p', ROOT], { encoding: 'utf8' })
    if (!existsSync(CLI)) throw new Error(`build failed:\n${build.stdout}${build.stderr}`)
  }
})

interface Running {
  child: ChildProcessWithoutNullStreams
  out: () => string
  err: () => string
  /** Resolves when stdout or stderr (`which`) matches, with the match; rejects if the process ends first. */
  waitFor(re: RegExp, which?: 'out' | 'err'): Promise<RegExpMatchArray>
  done: Promise<number | null>
  write(text: string): Promise<void>
}

function watch(args: string[]): Running {
  const child = spawn(process.execPath, [CLI, 'watch', ...args], { env: { PATH: process.env.PATH } })
  let stdout = ''
  let stderr = ''
  const waiters: Array<() => void> = []
  const wake = () => waiters.splice(0).forEach((w) => w())
  child.stdout.on('data', (d) => ((stdout += d), wake()))
  child.stderr.on('data', (d) => ((stderr += d), wake()))
  let ended = false
  const done = new Promise<number | null>((resolve) => child.on('close', (code) => ((ended = true), wake(), resolve(code))))
  return {
    child,
    out: () => stdout,
    err: () => stderr,
    done,
    waitFor(re, which = 'out') {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = (which === 'out' ? stdout : stderr).match(re)
          if (m) resolve(m)
          else if (ended) reject(new Error(`natplan watch ended before ${re} on std${which}:\n${stdout}\n${stderr}`))
          else waiters.push(check)
        }
        check()
      })
    },
    write: (text) => new Promise((resolve, reject) => child.stdin.write(text, (e) => (e ? reject(e) : resolve()))),
  }
}

/** Write in chunks of `size` bytes with a pause between them (shorter than any quiet period used here). */
async function trickle(w: Running, text: string, size = 512, pauseMs = 20): Promise<void> {
  for (let i = 0; i < text.length; i += size) {
    await w.write(text.slice(i, i + size))
    await sleep(pauseMs)
  }
}

function sortedKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortedKeys)
  if (v === null || typeof v !== 'object') return v
  return Object.fromEntries(
    Object.keys(v)
      .sort()
      .map((k) => [k, sortedKeys((v as Record<string, unknown>)[k])]),
  )
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('natplan watch', () => {
  let t: TestApp
  let url: string
  beforeAll(async () => {
    t = await startTestApp({ tokens: [{ name: 'watcher', scope: 'write', secret: TOKEN }] })
    url = await t.app.listen({ host: '127.0.0.1', port: 0 })
  })
  afterAll(async () => {
    await t?.close()
  })

  const get = async (path: string) => {
    const r = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(r.status, path).toBe(200)
    return (await r.json()) as any
  }
  const versions = async (cluster: string) => (await get(`/v1/clusters/${cluster}/versions`)).items.map((v: any) => v.version).sort()
  const latestItems = async (cluster: string) => byName((await get(`/v1/clusters/${cluster}/versions/latest/snapshot`)).resources.items)

  it('reads one kubectl stream per kind from files, reports and skips bad input, and stores the state they end in', async () => {
    const cluster = uniqueName('watch')
    const w = watch(['--url', url, '--cluster', cluster, '--token', TOKEN, '--quiet-period', '10s', '--json', ...KINDS])
    expect(await w.done, w.err()).toBe(0)
    const pushes = w
      .out()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(pushes).toHaveLength(1)
    expect(pushes[0]).toMatchObject({ created: true, version: { version: 1, counts: { services: 3, nodes: { count: 3 } } } })
    expect(await versions(cluster)).toEqual([1])
    expect(await latestItems(cluster)).toEqual(byName(expected.items))
    const err = w.err()
    expect(err).toMatch(/endpointslices\.jsonl:8: a broken object \(\d+ bytes: \{"type":"MODIFIED"/)
    expect(err).toMatch(/services\.jsonl:8: the watch ended with an ERROR event: 410 Expired: too old resource version: 5000 \(5862\)/)
    expect(err).toMatch(/services\.jsonl: removed 1 Service not listed again after kubectl restarted: shop\/api\n/)
    expect(err).toMatch(/endpointslices\.jsonl: removed 1 EndpointSlice not listed again after kubectl restarted: shop\/api-x7k2p\n/)
    expect(err).toMatch(/configmaps\.jsonl:1: ConfigMap kube-system\/coredns: a ConfigMap that is not kube-proxy's/)
    expect(err).toMatch(/configmaps\.jsonl:3: ConfigMap kube-system\/kube-root-ca\.crt: a ConfigMap that is not kube-proxy's/)
    // the Pod stream: its first event reported, the next one counted in that report
    expect(err.match(/a Pod event/g)).toHaveLength(1)
    expect(err).toMatch(/further Pod events of .*pods\.jsonl are skipped unreported/)

    // the same streams again: the same snapshot, which the server already has
    const again = watch(['--url', url, '--cluster', cluster, '--token', TOKEN, ...KINDS])
    expect(await again.done, again.err()).toBe(0)
    expect(again.out()).toBe(`${cluster} v1 unchanged (the server had this content): 3 services, 4 endpoints, 3 nodes, no warnings\n`)
  })

  it('through a pipe written in chunks: one push per burst after its quiet period, and what is pending when the input ends', async () => {
    const cluster = uniqueName('watchpipe')
    const others = KINDS.filter((k) => !k.endsWith('services.jsonl'))
    const w = watch(['--url', url, '--cluster', cluster, '--token', TOKEN, '--quiet-period', '1s', '-', ...others])
    const services = lines('services')
    // the first list, in chunks that split events: one push once it has been quiet
    await trickle(w, services.slice(0, 4).join(''), 300)
    await w.waitFor(/ v1 created: /)
    // churn: a MODIFIED and a DELETED
    await trickle(w, services.slice(4, 6).join(''), 200)
    await w.waitFor(/ v2 created: /)
    // the bookmark, the 410 and the restarted kubectl's list, then the input ends
    await trickle(w, services.slice(6).join(''))
    w.child.stdin.end()
    expect(await w.done, w.err()).toBe(0)
    const out = w.out().trim().split('\n')
    expect(out).toHaveLength(3)
    expect(out[0]).toBe(`${cluster} v1 created: 4 services, 4 endpoints, 3 nodes, no warnings`)
    expect(out[1]).toBe(`${cluster} v2 created: 3 services, 4 endpoints, 3 nodes, no warnings`)
    expect(out[2]).toBe(`${cluster} v3 created: 3 services, 4 endpoints, 3 nodes, no warnings`)
    expect(await versions(cluster)).toEqual([1, 2, 3])
    expect(await latestItems(cluster)).toEqual(byName(expected.items))
    expect(w.err()).toMatch(/stdin:8: the watch ended with an ERROR event: 410/)
  })

  it('pushes under steady churn at the maximum delay, though it is never quiet', async () => {
    const cluster = uniqueName('watchchurn')
    const w = watch(['--url', url, '--cluster', cluster, '--token', TOKEN, '--quiet-period', '1s', '--max-delay', '1500ms', '-'])
    const [a, b, c, modified] = lines('nodes')
    await w.write(a! + b! + c!)
    const node = JSON.parse(modified!)
    let pushedWhileBusy = false
    // A label changes each time (a heartbeat alone would be no change: envelope.ts withoutNoise).
    for (let i = 0; i < 60 && !pushedWhileBusy; i++) {
      node.object.metadata.resourceVersion = String(7000 + i)
      node.object.metadata.labels['natplan.test/churn'] = String(i)
      await w.write(JSON.stringify(node) + '\n')
      await sleep(100)
      pushedWhileBusy = / v1 created: /.test(w.out())
    }
    expect(pushedWhileBusy, w.err()).toBe(true)
    // one change more, which the push at the maximum delay cannot have had: the last push has it
    node.object.metadata.resourceVersion = '8000'
    node.object.metadata.labels['natplan.test/churn'] = 'last'
    await w.write(JSON.stringify(node) + '\n')
    w.child.stdin.end()
    expect(await w.done, w.err()).toBe(0)
    expect((await versions(cluster)).length).toBeGreaterThanOrEqual(2)
    expect(
      (await get(`/v1/clusters/${cluster}/versions/latest/snapshot`)).resources.items.find((i: any) => i.metadata.name === 'worker-c').metadata.labels[
        'natplan.test/churn'
      ],
    ).toBe('last')
  })

  it('keeps the state and retries while the server is down, and pushes once it is up', async () => {
    const cluster = uniqueName('watchdown')
    const port = await freePort()
    const w = watch(['--url', `http://127.0.0.1:${port}`, '--cluster', cluster, '--token', TOKEN, '--quiet-period', '200ms', '-', ...KINDS.slice(1)])
    await w.write(lines('services').join(''))
    await w.waitFor(/push: failed \(1\): .*retrying in 0\.5s/, 'err')
    const late = await startTestApp({ tokens: [{ name: 'watcher', scope: 'write', secret: TOKEN }] })
    try {
      await late.app.listen({ host: '127.0.0.1', port })
      await w.waitFor(/ v1 created: /)
      w.child.stdin.end()
      expect(await w.done, w.err()).toBe(0)
      expect(w.out().trim().split('\n')).toHaveLength(1)
      const r = await fetch(`http://127.0.0.1:${port}/v1/clusters/${cluster}/versions/latest/snapshot`, { headers: { authorization: `Bearer ${TOKEN}` } })
      expect(byName(((await r.json()) as any).resources.items)).toEqual(byName(expected.items))
    } finally {
      await late.close()
    }
  })

  it('on SIGTERM pushes what is pending and exits 0', async () => {
    const cluster = uniqueName('watchterm')
    const w = watch(['--url', url, '--cluster', cluster, '--token', TOKEN, '--quiet-period', '60s', '-'])
    // the Pod event last: once it is reported, everything before it has been read
    await w.write(lines('services').join('') + lines('pods')[0])
    await w.waitFor(/a Pod event/, 'err')
    w.child.kill('SIGTERM')
    expect(await w.done, w.err()).toBe(0)
    expect(w.out()).toBe(`${cluster} v1 created: 3 services, 0 endpoints, 1 node, no warnings\n`)
  })

  it('reports a refused push (4xx), goes on reading and pushes the next change; exits 1 when the last state was refused', async () => {
    const cluster = uniqueName('watch401')
    const w = watch(['--url', url, '--cluster', cluster, '--quiet-period', '300ms', '-'])
    const services = lines('services')
    await w.write(services.slice(0, 4).join(''))
    await w.waitFor(/push: refused, not retried .*401/, 'err')
    await w.write(services.slice(4, 6).join(''))
    await w.waitFor(/push: refused[^]*push: refused/, 'err')
    w.child.stdin.end()
    expect(await w.done).toBe(1)
    expect(w.out()).toBe('')
  })

  it('exits 1 when the server never answers the last push', async () => {
    const port = await freePort()
    const w = watch(['--url', `http://127.0.0.1:${port}`, '--cluster', uniqueName('watchgone'), `${WATCH}nodes.jsonl`])
    expect(await w.done).toBe(1)
    expect(w.err()).toMatch(/push: gave up after 5 attempts/)
  })

  it("runs deploy/watch's script, whose kubectls exit and are started again, to the state the streams end in", async () => {
    // A stand-in kubectl on PATH: its Nth run for a kind prints DIR/KIND.N and exits (a watch
    // closed by the API server, or a kubectl killed mid-object); with no such file it watches
    // on, printing nothing.
    const dir = mkdtempSync(join(tmpdir(), 'natplan-kubectl-'))
    const cluster = uniqueName('watchdeploy')
    const services = lines('services')
    const slices = lines('endpointslices')
    const restartAt = restartIndex(slices[7]!)
    const runs: Record<string, string[]> = {
      // the watch closes after the churn; the next kubectl lists again (shop/api deleted meanwhile)
      services: [services.slice(0, 6).join(''), services.slice(8).join('')],
      // killed in the middle of an event; the next one lists again
      'endpointslices.discovery.k8s.io': [slices.slice(0, 7).join('') + slices[7]!.slice(0, restartAt), slices[7]!.slice(restartAt) + slices.slice(8).join('')],
      nodes: [lines('nodes').join('')],
      configmap: [lines('configmaps')[1]!],
    }
    for (const [kind, texts] of Object.entries(runs)) texts.forEach((text, i) => writeFileSync(join(dir, `${kind}.${i + 1}`), text))
    writeFileSync(
      join(dir, 'kubectl'),
      `#!/usr/bin/env bash
kind=$2; n=$(( $(cat "${dir}/$kind.runs" 2>/dev/null || echo 0) + 1 )); echo $n > "${dir}/$kind.runs"
if [ -f "${dir}/$kind.$n" ]; then cat "${dir}/$kind.$n"; exit 0; fi
exec sleep 600
`,
    )
    chmodSync(join(dir, 'kubectl'), 0o755)
    const deployment = parseYaml(readFileSync(`${ROOT}deploy/watch/deployment.yaml`, 'utf8'))
    const script: string = deployment.spec.template.spec.containers[0].command[2]
    // its own process group, so that the kubectl loops go with it at the end
    const child = spawn('bash', ['-c', script], {
      cwd: ROOT,
      detached: true,
      env: { PATH: `${dir}:${process.env.PATH}`, NATPLAN_URL: url, NATPLAN_CLUSTER: cluster, NATPLAN_TOKEN: TOKEN },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    // 'exit', not 'close': the kubectl loops hold the same stdout and stderr until they are killed
    const done = new Promise<number | null>((resolve) => child.on('exit', resolve))
    try {
      let converged = false
      for (let i = 0; i < 120 && !converged; i++) {
        await sleep(500)
        const r = await fetch(`${url}/v1/clusters/${cluster}/versions/latest/snapshot`, { headers: { authorization: `Bearer ${TOKEN}` } })
        if (r.status === 200) converged = JSON.stringify(byName(((await r.json()) as any).resources.items)) === JSON.stringify(byName(expected.items))
      }
      expect(converged, `${stdout}\n${stderr}`).toBe(true)
      expect(stderr).toMatch(/removed 1 Service not listed again after kubectl restarted: shop\/api\n/)
      expect(stderr).toMatch(/a broken object/)
      child.kill('SIGTERM') // bash exec'd into node: the SIGTERM is natplan watch's
      expect(await done, stderr).toBe(0)
      expect(stdout).toMatch(new RegExp(`^${cluster} v1 created: `))
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL')
      } catch {
        // the group is gone already
      }
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("runs the README's examples, with a stand-in kubectl that prints the recorded streams", async () => {
    const readme = readFileSync(`${ROOT}README.md`, 'utf8')
    const section = readme.slice(readme.indexOf('## Live feed: natplan watch'))
    const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!
    const dir = mkdtempSync(join(tmpdir(), 'natplan-readme-'))
    const cluster = uniqueName('watchreadme')
    try {
      // `kubectl get KIND … --watch …` prints that kind's stream; `… -o yaml` kube-proxy's ConfigMap as YAML
      writeFileSync(join(dir, 'configmap.jsonl'), lines('configmaps')[1]!)
      writeFileSync(join(dir, 'kube-proxy.yaml.in'), toYaml(JSON.parse(lines('configmaps')[1]!).object))
      writeFileSync(
        join(dir, 'kubectl'),
        `#!/usr/bin/env bash
case " $* " in
  *" -o yaml "*) exec cat "${dir}/kube-proxy.yaml.in" ;;
  *" services "*) exec cat "${WATCH}services.jsonl" ;;
  *" endpointslices "*) exec cat "${WATCH}endpointslices.jsonl" ;;
  *" nodes "*) exec cat "${WATCH}nodes.jsonl" ;;
  *" configmap "*) exec cat "${dir}/configmap.jsonl" ;;
esac
echo "unexpected: kubectl $*" >&2; exit 1
`,
      )
      chmodSync(join(dir, 'kubectl'), 0o755)
      const script = block
        .replaceAll('npx natplan', `node ${CLI}`)
        .replaceAll('http://127.0.0.1:8080', url)
        .replaceAll('--cluster prod', `--cluster ${cluster}`)
      // spawned, not spawnSync: the server answering it runs in this process
      const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd: dir, env: { PATH: `${dir}:${process.env.PATH}`, NATPLAN_TOKEN: TOKEN } })
      const run = { stdout: '', stderr: '', status: null as number | null }
      child.stdout.on('data', (d) => (run.stdout += d))
      child.stderr.on('data', (d) => (run.stderr += d))
      run.status = await new Promise((resolve) => child.on('close', resolve))
      expect(run.status, run.stderr).toBe(0)
      expect(run.stdout).toBe(
        `${cluster} v1 created: 3 services, 4 endpoints, 3 nodes, no warnings\n${cluster} v1 unchanged (the server had this content): 3 services, 4 endpoints, 3 nodes, no warnings\n`,
      )
      expect(await latestItems(cluster)).toEqual(byName(expected.items))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuses bad command lines with exit 2', async () => {
    for (const args of [
      ['--cluster', 'x'],
      ['--url', url],
      ['--url', url, '--cluster', 'x', '--quiet-period', 'soon'],
      ['--url', url, '--cluster', 'x', '--quiet-period', '5s', '--max-delay', '1s'],
      ['--url', url, '--cluster', 'x', '/no/such/stream.jsonl'],
    ]) {
      const w = watch(args)
      w.child.stdin.end()
      expect(await w.done, args.join(' ')).toBe(2)
    }
  })
})
