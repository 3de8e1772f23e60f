/** Configuration from the environment, and the refusal to expose an unauthenticated API. */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { assertSafeBinding, ConfigError, defaultConfig, isLoopback, loadConfig, parseRateLimit, parseTokens } from '../../src/config.js'

describe('loadConfig', () => {
  it('has a default for everything', () => {
    const c = loadConfig({})
    expect(c).toMatchObject({
      databaseUrl: undefined,
      dataDir: './.natplan',
      host: '127.0.0.1',
      port: 8080,
      tokens: [],
      bodyLimit: 64 * 1024 * 1024,
      rateLimit: { max: 600, windowMs: 60_000 },
      logLevel: 'info',
    })
  })

  it('parses every variable', () => {
    const c = loadConfig({
      DATABASE_URL: 'postgresql://db/natplan',
      NATPLAN_DATA_DIR: '/var/lib/natplan',
      HOST: '0.0.0.0',
      PORT: '9000',
      NATPLAN_TOKENS: 'ci:write:abcdefghijklmnop:with:colons, grafana:read:0123456789abcdef',
      NATPLAN_BODY_LIMIT: '10MiB',
      NATPLAN_RATE_LIMIT: '50/10s',
      LOG_LEVEL: 'debug',
      NATPLAN_TRUST_PROXY: 'true',
    })
    expect(c.tokens).toEqual([
      { name: 'ci', scope: 'write', secret: 'abcdefghijklmnop:with:colons' },
      { name: 'grafana', scope: 'read', secret: '0123456789abcdef' },
    ])
    expect(c).toMatchObject({ port: 9000, bodyLimit: 10 * 1024 * 1024, rateLimit: { max: 50, windowMs: 10_000 }, logLevel: 'debug', trustProxy: true })
    expect(parseRateLimit('off')).toBeNull()
  })

  it('rejects bad values with the variable named', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/)
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/)
    expect(() => parseTokens('ci:root:abcdefghijklmnopq')).toThrow(/scope/)
    expect(() => parseTokens('ci:read:short')).toThrow(/16/)
    expect(() => parseTokens('ci:read:abcdefghijklmnopq,ci:write:abcdefghijklmnopq')).toThrow(/duplicate/)
    expect(() => loadConfig({ NATPLAN_RATE_LIMIT: 'lots' })).toThrow(ConfigError)
    expect(() => loadConfig({ NATPLAN_BODY_LIMIT: '1 parsec' })).toThrow(ConfigError)
  })
})

describe('binding without tokens', () => {
  it('allows loopback only', () => {
    for (const host of ['127.0.0.1', '::1', '[::1]', 'localhost', '127.1.2.3']) expect(isLoopback(host), host).toBe(true)
    for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.com']) expect(isLoopback(host), host).toBe(false)
    expect(() => assertSafeBinding(defaultConfig({ host: '0.0.0.0' }))).toThrow(/NATPLAN_TOKENS/)
    expect(() => assertSafeBinding(defaultConfig({ host: '0.0.0.0', tokens: parseTokens('a:read:abcdefghijklmnop') }))).not.toThrow()
  })

  it('makes the server exit non-zero with a clear message', () => {
    const server = fileURLToPath(new URL('../../src/server.ts', import.meta.url))
    const run = spawnSync(process.execPath, ['--import', 'tsx', server], {
      env: { PATH: process.env.PATH, HOST: '0.0.0.0', PORT: '0', DATABASE_URL: 'postgresql://127.0.0.1:1/never' },
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect(run.status).toBe(2)
    expect(run.stderr).toMatch(/refusing to listen on 0\.0\.0\.0 without authentication/)
  })
})
