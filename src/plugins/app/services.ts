/** Makes the injected use-cases available to routes and resolvers as `app.services`. */
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Services } from '../../services/contract.js'

declare module 'fastify' {
  interface FastifyInstance {
    services: Services
  }
}

export default fp(
  async function servicesPlugin(app: FastifyInstance, opts: { services: Services }) {
    app.decorate('services', opts.services)
  },
  { name: 'services' },
)
