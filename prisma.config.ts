// Prisma 7 reads the datasource URL from here, not from schema.prisma. `env()` from
// prisma/config is deliberately not used: it makes `prisma generate` fail when DATABASE_URL
// is unset (see reference/stack.md).
import { defineConfig } from 'prisma/config'

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost:5432/unset' },
})
