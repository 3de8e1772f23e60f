/**
 * OpenAPI 3.1 from the zod route schemas (fastify-type-provider-zod's transform), served with
 * Swagger UI at /docs. `npm run openapi` writes the same document to openapi/openapi.json.
 */
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod'

type TransformInput = Parameters<typeof jsonSchemaTransform>[0]

/**
 * jsonSchemaTransform assumes every route schema is zod; mercurius' routes carry plain JSON
 * schema and make it throw ("Cannot read properties of undefined (reading 'parent')" from
 * /docs/json). Only hand zod schemas to it.
 */
export function zodOnlyTransform(input: TransformInput): ReturnType<typeof jsonSchemaTransform> {
  const schema = input.schema as Record<string, unknown> | undefined
  const parts = ['body', 'querystring', 'params', 'headers']
  const isZod = (v: unknown) => typeof v === 'object' && v !== null && '_zod' in v
  const response = schema?.response as Record<string, unknown> | undefined
  const hasZod = schema !== undefined && (parts.some((p) => isZod(schema[p])) || (response !== undefined && Object.values(response).some(isZod)))
  if (!hasZod) return { schema: input.schema, url: input.url } as ReturnType<typeof jsonSchemaTransform>
  return jsonSchemaTransform(input)
}

export const OPENAPI_INFO = {
  title: 'natplan',
  version: '0.1.0',
  description:
    'Plan, version, diff and roll back the iptables rules kube-proxy (iptables mode) writes. ' +
    'Errors are RFC 9457 problem+json with JSON pointers. Authentication: `Authorization: Bearer <secret>` ' +
    'when the server has tokens (scopes read < write < admin).',
  license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
}

export default fp(
  async function swaggerPlugin(app: FastifyInstance) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: OPENAPI_INFO,
        components: {
          securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
        },
        security: [{ bearer: [] }],
        tags: [
          { name: 'snapshots', description: 'Ingest cluster snapshots as numbered versions' },
          { name: 'versions', description: 'Versions, their snapshots, plans and restore scripts' },
          { name: 'clusters', description: 'Clusters known to natplan' },
          { name: 'operations', description: 'Health, readiness and metrics' },
        ],
      },
      transform: zodOnlyTransform,
      transformObject: jsonSchemaTransformObject,
    })
    await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { deepLinking: true } })
  },
  { name: 'swagger' },
)
