/**
 * Process configuration: environment variables validated with zod, each with a default, so
 * `npm start` works on a bare machine (embedded PostgreSQL, loopback, no tokens).
 * docs/api.md carries the table of variables; keep the two in step.
 */
import ipaddr from 'ipaddr.js'
import { z } from 'zod'
import type { ParseLimits } from './services/bounded.js'

export type Scope = 'read' | 'write' | 'admin'

/** Scopes are ordered: a write token may read, an admin token may do everything. */
export const SCOPE_RANK: Record<Scope, number> = { read: 1, write: 2, admin: 3 }

export interface ApiToken {
  name: string
  scope: Scope
  secret: string
}

export interface RateLimitConfig {
  max: number
  /** milliseconds */
  windowMs: number
}

/** Versions pruned on a timer (services/retention.ts); neither limit set: no sweeps. */
export interface RetentionPolicy {
  /** NATPLAN_RETAIN_VERSIONS: keep at most this many versions per cluster (unset: no limit). */
  keepVersions?: number
  /** NATPLAN_RETAIN_DAYS: prune versions older than this many days (unset: no limit). */
  keepDays?: number
  /** NATPLAN_RETAIN_INTERVAL: seconds between sweeps, default 3600; 0 disables the timer. */
  intervalSeconds: number
  /** NATPLAN_RETAIN_DRY_RUN: sweeps only log what they would remove (default false). */
  dryRun?: boolean
}

export interface Config {
  /** unset: an embedded PostgreSQL under dataDir */
  databaseUrl: string | undefined
  dataDir: string
  host: string
  port: number
  tokens: ApiToken[]
  bodyLimit: number
  /** null: rate limiting off */
  rateLimit: RateLimitConfig | null
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
  /** Trust X-Forwarded-For (behind a load balancer) so rate limits key on the client IP. */
  trustProxy: boolean
  graphiql: boolean
  retention: RetentionPolicy
  /** NATPLAN_DB_POOL_SIZE (10), NATPLAN_DB_POOL_WAIT_MS (5000): PostgreSQL connections, and how long a request waits for one. */
  database: { poolSize: number; poolWaitMs: number }
  /** NATPLAN_INGEST_WAIT_MS (30000), NATPLAN_INGEST_MAX_WAITING (200): a cluster's ingest queue. */
  ingestQueue: { waitMs: number; maxWaiting: number }
  /** NATPLAN_INGEST_WORKERS (1): threads that parse, validate and plan snapshots; 0: on the event loop. */
  ingestWorkers: number
  /** NATPLAN_INGEST_NICE (10): how far below the main thread the ingest threads run for the CPU (Linux nice, 0–19). */
  ingestNice: number
  /** Request parsing limits (NATPLAN_MAX_DEPTH, NATPLAN_YAML_MAX_ALIASES). */
  parseLimits: ParseLimits
  /** GraphQL document limits (NATPLAN_GRAPHQL_MAX_*). */
  graphqlLimits: GraphqlLimits
  /** NATPLAN_IMPORT_MAX_UNPACKED: unpacked bytes of a backup archive being imported. */
  importMaxUnpackedBytes: number
  /** NATPLAN_REQUEST_TIMEOUT: milliseconds a whole request (headers and body) may take; 0: none. */
  requestTimeoutMs: number
  /** NATPLAN_METRICS_AUTH: `read` (default: /metrics names every cluster) or `none`. */
  metricsAuth: 'read' | 'none'
  /** NATPLAN_DOCS_AUTH: `none` (default) or `read`, for /docs and /graphiql. */
  docsAuth: 'read' | 'none'
}

export interface GraphqlLimits {
  /** Aliased fields per operation (1,000 aliases of an expensive field was a fan-out attack). */
  maxAliases: number
  /** Field nesting depth (version.source.source…). */
  maxDepth: number
  /** Lexical tokens of the document, counted while parsing (big inputs go in variables). */
  maxTokens: number
  /** graphql-armor's static cost: objects 2, scalars 1, ×1.5 per level. */
  maxCost: number
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/

/**
 * NATPLAN_TOKENS: comma-separated `name:scope:secret`. The secret is everything after the second
 * colon (so it may itself contain colons) and must be at least 16 characters: short secrets are
 * guessable within the rate limit's budget.
 */
export function parseTokens(raw: string): ApiToken[] {
  const tokens: ApiToken[] = []
  for (const [index, entry] of raw.split(',').entries()) {
    const trimmed = entry.trim()
    if (trimmed === '') continue
    const first = trimmed.indexOf(':')
    const second = first < 0 ? -1 : trimmed.indexOf(':', first + 1)
    if (second < 0) throw new ConfigError(`NATPLAN_TOKENS entry ${index}: expected name:scope:secret`)
    const name = trimmed.slice(0, first)
    const scope = trimmed.slice(first + 1, second)
    const secret = trimmed.slice(second + 1)
    if (!TOKEN_NAME.test(name)) throw new ConfigError(`NATPLAN_TOKENS entry ${index}: invalid token name "${name}"`)
    if (scope !== 'read' && scope !== 'write' && scope !== 'admin') {
      throw new ConfigError(`NATPLAN_TOKENS entry ${index} (${name}): scope must be read, write or admin`)
    }
    if (secret.length < 16) throw new ConfigError(`NATPLAN_TOKENS entry ${index} (${name}): secret shorter than 16 characters`)
    if (tokens.some((t) => t.name === name)) throw new ConfigError(`NATPLAN_TOKENS: duplicate token name "${name}"`)
    tokens.push({ name, scope, secret })
  }
  return tokens
}

const UNITS: Record<string, number> = { s: 1000, sec: 1000, second: 1000, m: 60_000, min: 60_000, minute: 60_000, h: 3_600_000, hour: 3_600_000 }

/** NATPLAN_RATE_LIMIT: `600/min` (also `/s`, `/h`, `/10s`…) or `off`. */
export function parseRateLimit(raw: string): RateLimitConfig | null {
  const value = raw.trim().toLowerCase()
  if (value === 'off' || value === '0') return null
  const match = /^(\d+)\s*\/\s*(\d*)\s*([a-z]+)$/.exec(value)
  const unit = match ? UNITS[match[3]!] : undefined
  if (!match || unit === undefined) throw new ConfigError(`NATPLAN_RATE_LIMIT: expected e.g. "600/min" or "off", got "${raw}"`)
  const max = Number(match[1])
  const windowMs = unit * (match[2] ? Number(match[2]) : 1)
  if (max < 1 || windowMs < 1) throw new ConfigError('NATPLAN_RATE_LIMIT: limit and window must be positive')
  return { max, windowMs }
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1000, kib: 1024, mb: 1e6, mib: 1024 ** 2, gb: 1e9, gib: 1024 ** 3 }

/** NATPLAN_BODY_LIMIT, NATPLAN_IMPORT_MAX_UNPACKED: bytes, or with a unit (`64MiB`, `10mb`). */
export function parseSize(raw: string, name = 'NATPLAN_BODY_LIMIT'): number {
  const match = /^(\d+)\s*([a-z]*)$/i.exec(raw.trim())
  const unit = match ? SIZE_UNITS[match[2]!.toLowerCase()] : undefined
  if (!match || unit === undefined) throw new ConfigError(`${name}: expected bytes or e.g. "64MiB", got "${raw}"`)
  return Number(match[1]) * unit
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, allowZero = false): number | undefined {
  const raw = env[name]
  if (raw === undefined || raw.trim() === '') return undefined
  const n = Number(raw)
  if (!Number.isInteger(n) || n < (allowZero ? 0 : 1))
    throw new ConfigError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got "${raw}"`)
  return n
}

function flag(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = env[name]
  if (raw === undefined || raw.trim() === '') return false
  const parsed = bool.safeParse(raw.trim().toLowerCase())
  if (!parsed.success) throw new ConfigError(`${name} must be true or false, got "${raw}"`)
  return parsed.data
}

/** NATPLAN_RETAIN_VERSIONS, NATPLAN_RETAIN_DAYS, NATPLAN_RETAIN_INTERVAL, NATPLAN_RETAIN_DRY_RUN. */
export function parseRetention(env: NodeJS.ProcessEnv): RetentionPolicy {
  return {
    keepVersions: positiveInt(env, 'NATPLAN_RETAIN_VERSIONS'),
    keepDays: positiveInt(env, 'NATPLAN_RETAIN_DAYS'),
    intervalSeconds: positiveInt(env, 'NATPLAN_RETAIN_INTERVAL', true) ?? 3600,
    dryRun: flag(env, 'NATPLAN_RETAIN_DRY_RUN'),
  }
}

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes')

const EnvSchema = z.object({
  DATABASE_URL: z.string().min(1).optional(),
  NATPLAN_DATA_DIR: z.string().min(1).default('./.natplan'),
  // `[::1]` as URLs write IPv6 addresses; listen() wants it bare.
  HOST: z
    .string()
    .min(1)
    .default('127.0.0.1')
    .transform((h) => h.replace(/^\[(.+)\]$/, '$1')),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  NATPLAN_TOKENS: z.string().default(''),
  NATPLAN_BODY_LIMIT: z.string().default('64MiB'),
  NATPLAN_IMPORT_MAX_UNPACKED: z.string().default('1GiB'),
  NATPLAN_METRICS_AUTH: z.enum(['read', 'none']).default('read'),
  NATPLAN_REQUEST_TIMEOUT: z.coerce.number().int().min(0).max(86_400).default(300),
  NATPLAN_DOCS_AUTH: z.enum(['read', 'none']).default('none'),
  NATPLAN_RATE_LIMIT: z.string().default('600/min'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  NATPLAN_TRUST_PROXY: bool.default(false),
  NATPLAN_GRAPHIQL: bool.default(true),
  NATPLAN_MAX_DEPTH: z.coerce.number().int().min(8).max(1000).default(64),
  NATPLAN_INGEST_NICE: z.coerce.number().int().min(0).max(19).default(10),
  NATPLAN_YAML_MAX_ALIASES: z.coerce.number().int().min(0).max(100_000).default(100),
  NATPLAN_GRAPHQL_MAX_ALIASES: z.coerce.number().int().min(0).max(10_000).default(15),
  NATPLAN_GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(2).max(100).default(10),
  NATPLAN_GRAPHQL_MAX_TOKENS: z.coerce.number().int().min(100).max(1_000_000).default(5000),
  NATPLAN_GRAPHQL_MAX_COST: z.coerce.number().int().min(10).max(10_000_000).default(5000),
})

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings count as unset, as a shell `VAR=` usually means "no value".
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  const parsed = EnvSchema.safeParse(present)
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
    throw new ConfigError(`invalid configuration: ${lines.join('; ')}`)
  }
  const e = parsed.data
  return {
    databaseUrl: e.DATABASE_URL,
    dataDir: e.NATPLAN_DATA_DIR,
    host: e.HOST,
    port: e.PORT,
    tokens: parseTokens(e.NATPLAN_TOKENS),
    bodyLimit: parseSize(e.NATPLAN_BODY_LIMIT),
    requestTimeoutMs: e.NATPLAN_REQUEST_TIMEOUT * 1000,
    metricsAuth: e.NATPLAN_METRICS_AUTH,
    docsAuth: e.NATPLAN_DOCS_AUTH,
    importMaxUnpackedBytes: parseSize(e.NATPLAN_IMPORT_MAX_UNPACKED, 'NATPLAN_IMPORT_MAX_UNPACKED'),
    rateLimit: parseRateLimit(e.NATPLAN_RATE_LIMIT),
    logLevel: e.LOG_LEVEL,
    trustProxy: e.NATPLAN_TRUST_PROXY,
    graphiql: e.NATPLAN_GRAPHIQL,
    retention: parseRetention(present),
    database: { poolSize: positiveInt(present, 'NATPLAN_DB_POOL_SIZE') ?? 10, poolWaitMs: positiveInt(present, 'NATPLAN_DB_POOL_WAIT_MS') ?? 5_000 },
    ingestQueue: { waitMs: positiveInt(present, 'NATPLAN_INGEST_WAIT_MS') ?? 30_000, maxWaiting: positiveInt(present, 'NATPLAN_INGEST_MAX_WAITING') ?? 200 },
    ingestWorkers: positiveInt(present, 'NATPLAN_INGEST_WORKERS', true) ?? 1,
    ingestNice: e.NATPLAN_INGEST_NICE,
    parseLimits: { maxDepth: e.NATPLAN_MAX_DEPTH, yamlMaxAliases: e.NATPLAN_YAML_MAX_ALIASES },
    graphqlLimits: {
      maxAliases: e.NATPLAN_GRAPHQL_MAX_ALIASES,
      maxDepth: e.NATPLAN_GRAPHQL_MAX_DEPTH,
      maxTokens: e.NATPLAN_GRAPHQL_MAX_TOKENS,
      maxCost: e.NATPLAN_GRAPHQL_MAX_COST,
    },
  }
}

/** Defaults for tests and tools that build the app without an environment. */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}), ...overrides }
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true
  const bare = host.replace(/^\[|\]$/g, '')
  if (!ipaddr.isValid(bare)) return false
  const addr = ipaddr.process(bare)
  return addr.range() === 'loopback'
}

/**
 * Without tokens anyone who can connect may write. That is only acceptable on loopback: refuse
 * to bind anywhere else rather than silently expose an unauthenticated write API.
 */
export function assertSafeBinding(config: Config): void {
  if (config.tokens.length === 0 && !isLoopback(config.host)) {
    throw new ConfigError(
      `refusing to listen on ${config.host} without authentication: set NATPLAN_TOKENS ` +
        `(name:scope:secret,...) or bind HOST to a loopback address such as 127.0.0.1`,
    )
  }
}
