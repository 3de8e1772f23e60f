/** The committed OpenAPI document must be what the routes generate (`npm run openapi`). */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { OPENAPI_PATH, openapiDocument } from '../../scripts/openapi.js'

describe('openapi/openapi.json', () => {
  it('is up to date with the zod route schemas (run `npm run openapi` if this fails)', async () => {
    const generated = await openapiDocument()
    expect(readFileSync(OPENAPI_PATH, 'utf8')).toBe(generated)
  })

  it('is OpenAPI 3.1 and documents the snapshot, problem and version schemas', async () => {
    const doc = JSON.parse(await openapiDocument())
    expect(doc.openapi).toBe('3.1.0')
    const post = doc.paths['/v1/clusters/{cluster}/snapshots'].post
    expect(post.requestBody.content).toHaveProperty('application/json')
    expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(['200', '201', '400', '413', '415']))
    expect(doc.components.schemas).toHaveProperty('Problem')
    expect(doc.components.schemas).toHaveProperty('Version')
    const params = doc.paths['/v1/clusters/{cluster}/versions/{version}/restore-script'].get.parameters.map((p: { name: string }) => p.name)
    expect(params).toEqual(expect.arrayContaining(['table', 'flavour', 'family', 'cluster', 'version']))
  })
})
