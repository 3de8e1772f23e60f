import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Kernel tests share /run/xtables.lock and the DB tests share one database: keep files
    // in a small pool so a 2-core machine is not oversubscribed.
    maxWorkers: 2,
  },
})
