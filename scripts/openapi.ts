/**
 * `npm run openapi`: build the app without listening or a database and write its OpenAPI 3.1
 * document to openapi/openapi.json. test/api/openapi.test.ts fails when the committed file is stale.
 */
import { writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { buildApp } from '../src/app.js'
import { defaultConfig } from '../src/config.js'
import type { Services } from '../src/services/contract.js'

export const OPENAPI_PATH = fileURLToPath(new URL('../openapi/openapi.json', import.meta.url))

/**
 * Generating the document never handles a request, so no use-case may be reached: every
 * member (also nested ones such as services.history.diff) throws when called. `getter`,
 * `setter` and `then` stay undefined so fastify's decorate and await see a plain object.
 */
/** Asked at start-up (onReady), not per request: the document's app runs no retention sweep. */
const STARTUP_ANSWERS: Record<string, () => unknown> = {
  'services.history.retentionPolicy': () => ({ intervalSeconds: 0 }),
}

function unreachable(path: string): unknown {
  const answer = STARTUP_ANSWERS[path]
  if (answer) return answer
  const fn = () => {
    throw new Error(`openapi generation must not call ${path}`)
  }
  return new Proxy(fn, {
    get(_target, name) {
      if (name === 'then' || name === 'getter' || name === 'setter' || typeof name === 'symbol') return undefined
      return unreachable(`${path}.${name}`)
    },
  })
}
const noServices = unreachable('services') as Services

export async function openapiDocument(): Promise<string> {
  const app = await buildApp({ config: defaultConfig(), services: noServices, logger: false })
  try {
    await app.ready()
    return JSON.stringify(app.swagger(), null, 2) + '\n'
  } finally {
    await app.close()
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = await openapiDocument()
  await writeFile(OPENAPI_PATH, text)
  process.stdout.write(`wrote ${OPENAPI_PATH} (${text.length} bytes)\n`)
}
