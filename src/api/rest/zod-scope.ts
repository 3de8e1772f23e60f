/**
 * The zod compilers of a REST scope, and strict input: a query parameter the route does not
 * declare is a 400 naming it, as an unknown body field is (request schemas are z.strictObject).
 * Careless input must not be ignored: `POST …/prune {"keep":1,"dryRun":true}` once deleted
 * versions because `dryRun` was silently dropped.
 *
 * The compilers are set per encapsulated scope, not on the root: there they would also apply to
 * mercurius' JSON-schema routes and break them.
 */
import type { FastifyInstance } from 'fastify'
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod'
import { z } from 'zod'

/** The query of a route that takes no parameters: any parameter is unknown. */
const NoQuery = z.strictObject({})

export function zodScope(app: FastifyInstance): void {
  app.setValidatorCompiler(validatorCompiler)
  app.setSerializerCompiler(serializerCompiler)
  app.addHook('onRoute', (route) => {
    route.schema ??= {}
    route.schema.querystring ??= NoQuery
  })
}
