/**
 * The README's quickstart examples, run: the push of a whole cluster (kubectl's two JSON
 * documents one after another, as the `{ kubectl …; kubectl …; }` pipeline prints them) through
 * the built CLI to a real server, every `curl` line of the block against it, and the local plans;
 * and the CLI section's session, each command's output compared with the README's.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApp, uniqueName, type TestApp } from '../api/helpers.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const CLI = `${ROOT}dist/src/cli.js`
const readme = readFileSync(`${ROOT}README.md`, 'utf8')
const block = /Then, from another shell:\n\n```sh\n([\s\S]*?)```/.exec(readme)![1]!

// The fixture's cluster, with the README's node names.
const cluster = JSON.parse(readFileSync(`${ROOT}test/fixtures/cluster/three-nodes.json`, 'utf8').replaceAll('worker-', 'node-')) as {
  items: Array<{ kind: string }>
}
const list = { ...cluster, items: cluster.items.filter((o) => o.kind !== 'ConfigMap') }
const configMap = cluster.items.find((o) => o.kind === 'ConfigMap')!
const kubectlOutput = `${JSON.stringify(list, null, 4)}\n${JSON.stringify(configMap, null, 4)}\n`

function cli(args: string[], stdin: string, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { PATH: process.env.PATH } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(stdin)
  })
}

let t: TestApp
let base: string
let dir: string
const name = uniqueName('readme')

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: npm test builds it first (npm run build)`)
  t = await startTestApp()
  base = await t.app.listen({ host: '127.0.0.1', port: 0 })
  dir = mkdtempSync(join(tmpdir(), 'natplan-readme-'))
})
afterAll(async () => {
  await t?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('README quickstart', () => {
  it('pushes the whole cluster as the pipeline prints it', async () => {
    const push = /npx natplan (push [^\n]*)/.exec(block)![1]!.split(/\s+/)
    const args = push.map((a) => (a === 'http://127.0.0.1:8080' ? base : a === 'prod' ? name : a))
    const r = await cli(args, kubectlOutput, dir)
    expect(r.code, r.stderr).toBe(0)
    // Three nodes and none named: the counts are of the first.
    expect(r.stdout).toMatch(new RegExp(`^${name}: version 1 created: .*, 3 nodes \\(3 distinct plans\\)\n  IPv4 on its first node: `))
  })

  it('answers every curl line of the block', async () => {
    const urls = [...block.matchAll(/curl -s '?(http:\/\/127\.0\.0\.1:8080[^'\s]*)'?/g)].map((m) => m[1]!)
    expect(urls.length).toBeGreaterThanOrEqual(4)
    // One more version, so that "since version 1" has something to show.
    const next = structuredClone(list) as { items: Array<Record<string, unknown>> }
    ;(next.items.find((o) => o.kind === 'EndpointSlice')!.endpoints as unknown[]).push({
      addresses: ['10.244.0.77'],
      conditions: { ready: true },
      nodeName: 'node-a',
    })
    expect((await t.app.inject({ method: 'POST', url: `/v1/clusters/${name}/snapshots`, payload: [next, configMap] })).statusCode).toBe(201)
    for (const url of urls) {
      const res = await fetch(url.replace('http://127.0.0.1:8080', base).replace('/clusters/prod/', `/clusters/${name}/`))
      const body = await res.text()
      expect(res.status, `${url}: ${body.slice(0, 300)}`).toBe(200)
      expect(body.length, url).toBeGreaterThan(0)
    }
  })

  it('plans a snapshot file for one node and for every node', async () => {
    writeFileSync(join(dir, 'snapshot.json'), JSON.stringify(cluster))
    for (const line of block.matchAll(/npx natplan (plan [^\n]*)/g)) {
      const r = await cli(line[1]!.split(/\s+/), '', dir)
      expect(r.code, `${line[0]}: ${r.stderr}`).toBe(0)
    }
    expect(readFileSync(join(dir, 'rules', 'node-a.rules'), 'utf8')).toContain('*nat')
  })
})

describe('README CLI session', () => {
  const session = /\n```console\n([\s\S]*?)```/.exec(readme)![1]!
  const steps = session
    .split(/^\$ /m)
    .filter(Boolean)
    .map((step) => {
      const [command, ...output] = step.split('\n')
      return { command: command!, output: output.join('\n') }
    })
  const cluster2 = uniqueName('readmecli')
  let sessionDir: string

  beforeAll(async () => {
    sessionDir = mkdtempSync(join(tmpdir(), 'natplan-readme-cli-'))
    // The quickstart's cluster, and the same with one more shop/web endpoint on node-a.
    writeFileSync(join(sessionDir, 'snapshot.json'), JSON.stringify(cluster))
    const next = structuredClone(cluster) as { items: Array<Record<string, any>> }
    next.items
      .find((o) => o.kind === 'EndpointSlice' && o.metadata.name === 'web-x7k2p')!
      .endpoints.push({ addresses: ['10.244.0.77'], conditions: { ready: true }, nodeName: 'node-a' })
    writeFileSync(join(sessionDir, 'snapshot-2.json'), JSON.stringify(next))
  })
  afterAll(() => {
    if (sessionDir) rmSync(sessionDir, { recursive: true, force: true })
  })

  it('prints what the README shows', async () => {
    expect(steps.length).toBeGreaterThanOrEqual(5)
    for (const { command, output } of steps) {
      const args = command.replace(/^npx natplan /, '').split(/\s+/)
      const r = await cli(
        args.map((a) => (a === 'http://127.0.0.1:8080' ? base : a === 'prod' ? cluster2 : a)),
        '',
        sessionDir,
      )
      expect(r.code, `${command}: ${r.stderr}`).toBe(0)
      const got = r.stdout.replaceAll(cluster2, 'prod')
      // A last line "…": the README shows the beginning.
      if (output.endsWith('…\n')) expect(got.startsWith(output.slice(0, -2)), `${command}:\n${got}`).toBe(true)
      else expect(got, command).toBe(output)
      if (command.includes('snapshot.json')) {
        // node-a's iptables-save, still at version 1: its restore script.
        const script = await fetch(`${base}/v1/clusters/${cluster2}/versions/1/nodes/node-a/restore-script`)
        writeFileSync(join(sessionDir, 'node-a.save'), await script.text())
      }
    }
  })
})
