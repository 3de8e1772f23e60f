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

/** Generating the document never handles a request, so no use-case may be reached. */
const noServices = new Proxy({} as Services, {
  get(_target, name) {
    if (name === 'then') return undefined
    return () => {
      throw new Error(`openapi generation must not call services.${String(name)}`)
    }
  },
})

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
