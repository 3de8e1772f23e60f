// npm ci's `prepare` step: builds dist/ (Prisma client + tsc) so that `npm start` only starts.
// Skipped where the sources are not there yet: the Dockerfile installs dependencies in a layer
// of their own before it copies the sources, and builds after.
import { execSync } from 'node:child_process'
import { existsSync } from 'node:fs'

if (!existsSync(new URL('../src/server.ts', import.meta.url))) {
  console.log('natplan prepare: no sources yet, build skipped')
} else {
  execSync('npm run build', { stdio: 'inherit' })
}
