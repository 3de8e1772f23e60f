/**
 * One error handler for the whole app: every 4xx/5xx leaves as RFC 9457 problem+json.
 * 4xx tell the client what was wrong (with JSON pointers where we have them); 5xx say
 * "Internal Server Error" and the context goes to the log only (fastify/demo's rule).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import { DomainError, LimitError, type ProblemIssue } from '../../errors.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Media types the route's body may have, named by a 415 (default: application/json). */
    accepts?: readonly string[]
  }
}

export interface ProblemIssueOut extends ProblemIssue {
  /** Where the pointer points: the body (default), the query string, the path or a header. */
  location?: 'body' | 'query' | 'path' | 'header'
}

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  instance: string
  errors?: ProblemIssueOut[]
  [extension: string]: unknown
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

/** `type` URIs: a stable slug per kind of problem, documented in docs/api.md. */
export function problemType(slug: string): string {
  return `urn:natplan:problem:${slug}`
}

const SLUG_BY_STATUS: Record<number, string> = {
  400: 'bad-request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not-found',
  405: 'method-not-allowed',
  406: 'not-acceptable',
  408: 'request-timeout',
  409: 'conflict',
  413: 'payload-too-large',
  414: 'uri-too-long',
  415: 'unsupported-media-type',
  422: 'unprocessable-content',
  429: 'too-many-requests',
  431: 'request-header-fields-too-large',
  500: 'internal',
  503: 'unavailable',
}

export function makeProblem(request: FastifyRequest, status: number, detail: string, extra: Partial<Problem> = {}): Problem {
  return {
    type: problemType(SLUG_BY_STATUS[status] ?? `http-${status}`),
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail,
    // A 414's URL may be long; the instance only needs to identify it.
    instance: request.url.length > 1024 ? `${request.url.slice(0, 1024)}…` : request.url,
    requestId: request.id,
    ...extra,
  }
}

/** Where a 4xx without pointers of its own went wrong, by status. */
const DEFAULT_LOCATION: Record<number, { pointer: string; location: NonNullable<ProblemIssueOut['location']> }> = {
  401: { pointer: '/authorization', location: 'header' },
  403: { pointer: '/authorization', location: 'header' },
  404: { pointer: '', location: 'path' },
  405: { pointer: '', location: 'path' },
  408: { pointer: '', location: 'body' },
  413: { pointer: '', location: 'body' },
  414: { pointer: '', location: 'path' },
  415: { pointer: '/content-type', location: 'header' },
  429: { pointer: '/authorization', location: 'header' },
  431: { pointer: '', location: 'header' },
}

/** Every 4xx carries errors[] (docs/api.md): one entry saying what and where when none was given. */
export function withErrors(problem: Problem): Problem {
  if (problem.status < 400 || problem.status >= 500 || (problem.errors && problem.errors.length > 0)) return problem
  const at = DEFAULT_LOCATION[problem.status] ?? { pointer: '', location: 'body' as const }
  return { ...problem, errors: [{ pointer: at.pointer, detail: problem.detail, location: at.location }] }
}

export function sendProblem(reply: FastifyReply, input: Problem): FastifyReply {
  const problem = withErrors(input)
  if (problem.status === 503 && !reply.hasHeader('retry-after')) reply.header('retry-after', '5')
  if (problem.status === 401) reply.header('www-authenticate', 'Bearer realm="natplan"')
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).serializer(JSON.stringify).send(problem)
}

/** Route validation issues (fastify-type-provider-zod puts zod issues in `error.validation`). */
function validationProblem(request: FastifyRequest, error: FastifyError): Problem {
  const location = LOCATION[error.validationContext ?? 'body'] ?? 'body'
  const errors: ProblemIssueOut[] = (error.validation ?? []).flatMap((v) => {
    const at = v.instancePath === '/' ? '' : v.instancePath
    // A strict object's unknown keys: one error per key, pointing at it (zod reports the object).
    const keys = v.keyword === 'unrecognized_keys' ? (v.params as { keys?: unknown }).keys : undefined
    if (Array.isArray(keys)) {
      const what = location === 'query' ? 'unknown query parameter' : 'unknown field'
      return keys.map((k) => ({ pointer: `${at}/${escapePointer(String(k))}`, detail: `${what} "${String(k)}"`, location }))
    }
    return [{ pointer: at, detail: v.message ?? 'invalid', location }]
  })
  const first = errors[0]
  const where = first ? `${location}${first.pointer ? ` at ${first.pointer}` : ''}` : location
  return makeProblem(request, 400, `invalid ${where}: ${first?.detail ?? 'invalid input'}`, {
    type: problemType('validation'),
    errors,
  })
}

/** RFC 6901: "~" and "/" inside a key. */
function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1')
}

const LOCATION: Record<string, ProblemIssueOut['location']> = {
  body: 'body',
  querystring: 'query',
  params: 'path',
  headers: 'header',
}

/**
 * Errors that mean "PostgreSQL is not there" even when a lower layer did not wrap them in an
 * UnavailableError: connection refused/reset, pg's admin-shutdown/connection-exception SQLSTATEs
 * (57P01-57P03, class 08), Prisma's P1001/P1017/P2024 and the driver adapter's wording.
 */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 4) return false
  const e = error as { code?: unknown; message?: unknown; cause?: unknown; kind?: unknown }
  const code = typeof e.code === 'string' ? e.code : ''
  if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'P1001', 'P1017', 'P2024'].includes(code)) return true
  if (/^(57P0[123]|08\d\d\d)$/.test(code)) return true
  const message = typeof e.message === 'string' ? e.message : ''
  if (
    /Connection terminated|connect ECONNREFUSED|terminating connection due to administrator command|Can't reach database server|timeout exceeded when trying to connect/i.test(
      message,
    )
  )
    return true
  return isDatabaseUnavailable(e.cause, depth + 1)
}

export function toProblem(request: FastifyRequest, error: unknown): Problem {
  if (error instanceof LimitError) {
    const errors = error.issues.length ? error.issues : [{ pointer: '', detail: `limit ${error.limit.name} is ${error.limit.value}` }]
    return makeProblem(request, error.status, error.message, { type: problemType('limit-exceeded'), limit: error.limit, errors })
  }
  if (error instanceof DomainError) {
    return makeProblem(request, error.status, error.message, error.issues.length ? { errors: error.issues } : {})
  }
  const fe = error as FastifyError
  if (fe && Array.isArray(fe.validation)) return validationProblem(request, fe)
  if (isDatabaseUnavailable(error)) {
    return makeProblem(request, 503, 'The database is unavailable; retry shortly.')
  }
  const status = typeof fe?.statusCode === 'number' ? fe.statusCode : 500
  if (status === 415) return unsupportedMediaType(request)
  if (status >= 400 && status < 500) return makeProblem(request, status, clientMessage(fe))
  return makeProblem(request, status >= 500 && status < 600 ? status : 500, 'Internal Server Error')
}

/** 415: what was sent, and what the route takes (its config.accepts). */
export function unsupportedMediaType(request: FastifyRequest): Problem {
  const accepted = [...(request.routeOptions.config?.accepts ?? ['application/json'])]
  const sent = request.headers['content-type']
  const detail = `${sent ? `content type "${sent.split(';')[0]}"` : 'a body without a content type'} is not accepted here; send ${accepted.join(', ')}`
  return makeProblem(request, 415, detail, { accepted, errors: [{ pointer: '/content-type', detail, location: 'header' }] })
}

/**
 * Errors fastify answers before routing: a path that is not valid percent-encoding (`%ff`,
 * FST_ERR_BAD_URL) and a path parameter longer than maxParamLength (FST_ERR_MAX_PARAM_LENGTH,
 * 414). fastify's own answer is application/json of another shape (fastify.js onBadUrl).
 */
export function frameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const long = error.code === 'FST_ERR_MAX_PARAM_LENGTH'
  const detail = long ? 'a path segment is longer than 200 characters' : 'the path is not valid percent-encoded UTF-8'
  sendProblem(reply, makeProblem(request, long ? 414 : 400, detail, { errors: [{ pointer: '', detail, location: 'path' }] }))
}

/**
 * Errors of Node's HTTP parser, before there is a request: a malformed request line or header
 * (a bad Content-Length among them) 400, headers over the size limit 431, a request not received
 * within the request timeout 408. Written to the socket as problem+json, then the connection is
 * closed (what fastify's defaultClientErrorHandler does, with its own JSON).
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400
  const detail =
    status === 408
      ? 'the request was not received in time'
      : status === 431
        ? 'the request line and headers are larger than the server accepts (16 KiB)'
        : `malformed HTTP request${err.code ? ` (${err.code})` : ''}`
  const body = JSON.stringify(
    withErrors({ type: problemType(SLUG_BY_STATUS[status]!), title: STATUS_CODES[status]!, status, detail, instance: '', requestId: randomUUID() }),
  )
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    )
  }
  socket.destroy(err)
}

/** fastify's own 4xx messages are fine for clients; strip the FST_ code prefix noise. */
function clientMessage(error: FastifyError): string {
  const message = typeof error.message === 'string' && error.message ? error.message : 'Bad Request'
  return message.replace(/^FST_[A-Z_]+:\s*/, '')
}

async function problemPlugin(app: FastifyInstance): Promise<void> {
  app.setErrorHandler((error, request, reply) => {
    const problem = toProblem(request, error)
    if (problem.status >= 500) {
      // Full request context for the operator; secrets are removed by the logger's redact paths.
      request.log.error({ err: error, request: { method: request.method, url: request.url, headers: request.headers } }, 'request failed')
    } else {
      request.log.info({ status: problem.status, detail: problem.detail }, 'client error')
    }
    // A busy pool or cluster lane clears in about a second, an outage in more (sendProblem's 5).
    const retryAfter = (error as { retryAfterSeconds?: unknown }).retryAfterSeconds
    if (problem.status === 503 && typeof retryAfter === 'number') reply.header('retry-after', String(retryAfter))
    return sendProblem(reply, problem)
  })
}

export default fp(problemPlugin, { name: 'problem' })
