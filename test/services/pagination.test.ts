/** One pagination for every list: a bad limit or cursor is a 400 naming it, never clamped. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Database } from '../../src/db/index.js'
import { BadRequestError } from '../../src/errors.js'
import type { Services } from '../../src/services/contract.js'
import { openTestServices } from '../helpers/services.js'

let db: Database
let services: Services
beforeAll(async () => {
  ;({ db, services } = await openTestServices({ poolSize: 2 }))
})
afterAll(async () => db?.close())

describe('pagination', () => {
  it('refuses a limit outside 1..500 and a foreign cursor on every list, pointing at it', async () => {
    const h = services.history!
    const lists: Array<[string, (q: { limit?: number; cursor?: string }) => Promise<unknown>]> = [
      ['clusters', (q) => services.listClusters(q)],
      ['backups', (q) => h.listBackups(q)],
    ]
    for (const [what, list] of lists) {
      for (const limit of [0, 501, 1.5]) {
        const err = await list({ limit }).catch((e: unknown) => e)
        expect(err, `${what} limit ${limit}`).toBeInstanceOf(BadRequestError)
        expect((err as BadRequestError).issues[0]?.pointer).toBe('/limit')
      }
      const bad = await list({ cursor: 'bm90LWEtY3Vyc29y' }).catch((e: unknown) => e)
      expect((bad as BadRequestError).issues[0]?.pointer, what).toBe('/cursor')
      await expect(list({ limit: 500 })).resolves.toBeDefined()
    }
  })
})
