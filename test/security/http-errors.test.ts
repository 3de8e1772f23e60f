/**
 * Every 4xx of the HTTP layer is problem+json with errors[]: those fastify answers
 * before routing (bad percent-encoding, a too-long path parameter), those of Node's HTTP parser
 * (bad Content-Length, headers too large, the request timeout), 415 naming what the route
 * takes, and fastify's own 400s. Raw sockets, so nothing in between tidies the answers.
 */
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { smallEnvelope, startTestApp, uniqueName, type TestApp } from '../api/helpers.js'

let t: TestApp
let port: number
let cluster: string
beforeAll(async () => {
  t = await startTestApp()
  await t.app.listen({ host: '127.0.0.1', port: 0 })
  port = (t.app.server.address() as { port: number }).port
  cluster = uniqueName('httperr')
  expect((await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/snapshots`, payload: smallEnvelope() })).statusCode).toBe(201)
})
afterAll(async () => {
  t?.app.server.closeAllConnections()
  await t?.close()
})

/** Sends raw bytes, reads until the server closes or answers whole; returns status, headers, body. */
function raw(request: string | Buffer): Promise<{ status: number; headers: Record<string, string>; body: any }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    const done = () => {
      const text = Buffer.concat(chunks).toString('latin1')
      const [head, ...rest] = text.split('\r\n\r\n')
      const lines = head!.split('\r\n')
      const headers = Object.fromEntries(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]))
      const bodyText = rest.join('\r\n\r\n')
      const len = Number(headers['content-length'] ?? bodyText.length)
      let body: unknown = bodyText.slice(0, len)
      try {
        body = JSON.parse(body as string)
      } catch {
        // not JSON: left as text for the assertion to show
      }
      resolve({ status: Number(lines[0]!.split(' ')[1]), headers, body })
      socket.destroy()
    }
    socket.on('data', (c) => {
      chunks.push(c)
      const text = Buffer.concat(chunks).toString('latin1')
      const end = text.indexOf('\r\n\r\n')
      const len = /content-length: *(\d+)/i.exec(text)
      if (end >= 0 && len && text.length - end - 4 >= Number(len[1])) done()
    })
    socket.on('end', done)
    socket.on('error', reject)
    socket.write(request)
  })
}

function expectProblem(r: Awaited<ReturnType<typeof raw>>, status: number) {
  expect(r.status, JSON.stringify(r.body)).toBe(status)
  expect(r.headers['content-type']).toMatch(/^application\/problem\+json/)
  expect(r.body.status).toBe(status)
  expect(r.body.type).toMatch(/^urn:natplan:problem:/)
  expect(r.body.errors.length).toBeGreaterThan(0)
}

describe('HTTP-layer 4xx are problem+json', () => {
  it('%ff in a path: 400', async () => {
    expectProblem(await raw('GET /v1/clusters/%ff/versions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), 400)
  })

  it('a path parameter over 200 characters: 414', async () => {
    const r = await raw(`GET /v1/clusters/${'a'.repeat(5000)}/versions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
    expectProblem(r, 414)
    expect(r.body.instance.length).toBeLessThan(1100)
  })

  it('a Content-Length that is not a number, or two that disagree: 400', async () => {
    expectProblem(
      await raw(`POST /v1/clusters/${cluster}/snapshots HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}`),
      400,
    )
    expectProblem(
      await raw(
        `POST /v1/clusters/${cluster}/snapshots HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`,
      ),
      400,
    )
  })

  it('headers over 16 KiB: 431', async () => {
    expectProblem(await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20000)}\r\n\r\n`), 431)
  })

  it('the request timeout: 408 (as Node reports it, through the clientError handler)', async () => {
    const socket = connect(port, '127.0.0.1')
    const answer = new Promise<string>((resolve) => {
      const parts: Buffer[] = []
      socket.on('data', (c) => parts.push(c))
      socket.on('close', () => resolve(Buffer.concat(parts).toString()))
    })
    const serverSide = await new Promise<import('node:net').Socket>((resolve) => {
      t.app.server.once('connection', resolve)
      socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n')
    })
    // Node's own timer emits exactly this (lib/_http_server.js onRequestTimeout).
    t.app.server.emit('clientError', Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), serverSide)
    const text = await answer
    expect(text).toMatch(/^HTTP\/1.1 408 /)
    expect(text).toMatch(/content-type: application\/problem\+json/i)
    const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))
    expect(body).toMatchObject({ status: 408, type: 'urn:natplan:problem:request-timeout' })
    expect(body.errors.length).toBe(1)
  })

  it("the request timeout is on (Node's 300 s, which fastify would turn off)", () => {
    expect(t.app.server.requestTimeout).toBe(300_000)
  })

  it('415 lists the media types the route accepts, with errors[]', async () => {
    const snap = await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/snapshots`, payload: 'a,b', headers: { 'content-type': 'text/csv' } })
    expect(snap.statusCode).toBe(415)
    expect(snap.headers['content-type']).toMatch(/problem\+json/)
    expect(snap.json().accepted).toEqual(['application/json', 'application/yaml', 'text/yaml', 'application/x-yaml'])
    expect(snap.json().errors[0]).toMatchObject({ pointer: '/content-type', location: 'header' })
    const imp = await t.app.inject({
      method: 'POST',
      url: `/v1/backups/import?cluster=${cluster}`,
      payload: '{}',
      headers: { 'content-type': 'application/json' },
    })
    expect(imp.statusCode).toBe(415)
    expect(imp.json().accepted).toContain('application/gzip')
    const drift = await t.app.inject({ method: 'POST', url: `/v1/clusters/${cluster}/versions/1/drift`, payload: {} })
    expect(drift.statusCode).toBe(415)
    expect(drift.json().accepted).toEqual(['text/plain'])
  })

  it("fastify's own 4xx (404, 413) carry errors[] too", async () => {
    const notFound = await t.app.inject({ method: 'GET', url: '/nope' })
    expect(notFound.statusCode).toBe(404)
    expect(notFound.json().errors[0]).toMatchObject({ location: 'path' })
    const tooBig = await t.app.inject({
      method: 'POST',
      url: `/v1/clusters/${cluster}/snapshots`,
      payload: 'x'.repeat(100),
      headers: { 'content-type': 'application/json', 'content-length': String(1024 ** 3) },
    })
    expect(tooBig.statusCode).toBe(413)
    expect(tooBig.json().errors.length).toBe(1)
  })
})
