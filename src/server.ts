#!/usr/bin/env node
/**
 * Process entry: configuration from the environment, the database, listen, graceful shutdown.
 * Everything else lives in buildApp (src/app.ts).
 */
import closeWithGrace from 'close-with-grace'
import { join } from 'node:path'
import pino from 'pino'
import { buildApp, loggerOptions } from './app.js'
import { assertSafeBinding, ConfigError, loadConfig, type Config } from './config.js'
import { openDatabase } from './db/index.js'
import { createServices } from './services/index.js'

export async function start(config: Config): Promise<void> {
  const logger = pino(loggerOptions(config) as pino.LoggerOptions)
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: join(config.dataDir, 'pg'), logger, ...config.database })
  const services = createServices(db, {
    retention: config.retention,
    ingestQueue: config.ingestQueue,
    ingestWorkers: config.ingestWorkers,
    ingestNice: config.ingestNice,
    importLimits: { maxUncompressedBytes: config.importMaxUnpackedBytes, maxSnapshotBytes: config.bodyLimit },
  })
  await services.start?.()
  const app = await buildApp({ config, services, logger })
  closeWithGrace({ delay: 10_000, logger }, async ({ err, signal }) => {
    if (err) logger.error({ err }, 'shutting down after an error')
    else logger.info({ signal }, 'shutting down')
    await app.close()
    await services.close?.()
    await db.close()
  })
  await app.listen({ host: config.host, port: config.port })
  if (config.tokens.length === 0) {
    logger.warn({ host: config.host }, 'NATPLAN_TOKENS is empty: the API is UNAUTHENTICATED (loopback only)')
  } else {
    logger.info({ tokens: config.tokens.map((t) => `${t.name}:${t.scope}`) }, 'bearer-token authentication on')
  }
}

async function main(): Promise<void> {
  let config: Config
  try {
    config = loadConfig()
    assertSafeBinding(config)
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`natplan: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
  await start(config)
}

main().catch((err: unknown) => {
  process.stderr.write(`natplan: failed to start: ${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(1)
})
