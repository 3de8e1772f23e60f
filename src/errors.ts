/**
 * Domain errors. Services throw these; the HTTP layer maps them to RFC 9457 problem+json
 * (status, title, detail, and `errors[].pointer` for validation problems). Nothing else is
 * allowed to reach a client: any other error is a 500 with a generic detail.
 */
export interface ProblemIssue {
  /** RFC 6901 JSON pointer into the request body or query, e.g. `/resources/items/17/spec/ports/0/port`. */
  pointer: string
  detail: string
}

export class DomainError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    detail: string,
    readonly issues: ProblemIssue[] = [],
  ) {
    super(detail)
    this.name = new.target.name
  }
}

export class BadRequestError extends DomainError {
  constructor(detail: string, issues: ProblemIssue[] = []) {
    super(400, 'Bad Request', detail, issues)
  }
}

/** The body parsed but is not a usable snapshot (zod issues mapped to pointers): 400. */
export class ValidationError extends DomainError {
  constructor(detail: string, issues: ProblemIssue[]) {
    super(400, 'Bad Request', detail, issues)
  }
}

/** A well-formed request the content of which cannot be processed (e.g. a tampered archive): 422. */
export class UnprocessableError extends DomainError {
  constructor(detail: string, issues: ProblemIssue[] = []) {
    super(422, 'Unprocessable Content', detail, issues)
  }
}

export class NotFoundError extends DomainError {
  constructor(detail: string, issues: ProblemIssue[] = []) {
    super(404, 'Not Found', detail, issues)
  }
}

/** The one wording of a missing cluster, wherever it is looked up. */
export function clusterNotFound(cluster: string): NotFoundError {
  return new NotFoundError(`cluster "${cluster}" not found`, [{ pointer: '/cluster', detail: 'no such cluster' }])
}

/** The one wording of a missing version (`latest`: the cluster has none). */
export function versionNotFound(cluster: string, ref: number | 'latest'): NotFoundError {
  return ref === 'latest'
    ? new NotFoundError(`cluster "${cluster}" has no versions`, [{ pointer: '/version', detail: 'the cluster has no versions' }])
    : new NotFoundError(`cluster "${cluster}" has no version ${ref}`, [{ pointer: '/version', detail: `no version ${ref}` }])
}

export class ConflictError extends DomainError {
  constructor(detail: string) {
    super(409, 'Conflict', detail)
  }
}

/** PostgreSQL unreachable: 503 with Retry-After, the process keeps running. */
export class UnavailableError extends DomainError {
  constructor(detail = 'The database is unavailable; retry shortly.') {
    super(503, 'Service Unavailable', detail)
  }
}

/**
 * A request refused because it is over one of the server's limits (nesting depth, YAML aliases,
 * GraphQL aliases/depth/tokens/cost, archive sizes). The problem names the limit, its value and
 * the environment variable that sets it, so a client knows what it ran into.
 */
export class LimitError extends DomainError {
  constructor(
    status: number,
    detail: string,
    readonly limit: { name: string; value: number; env?: string },
    issues: ProblemIssue[] = [],
  ) {
    super(status, status === 413 ? 'Content Too Large' : status === 422 ? 'Unprocessable Content' : 'Bad Request', detail, issues)
  }
}
