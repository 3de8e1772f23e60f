// Lint: typescript-eslint's recommended rules over the sources, tests, benchmarks and scripts;
// Prettier owns the layout (npm run format), so no stylistic rules here.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['.scratch/', 'dist/', 'node_modules/', 'src/generated/', 'coverage/', '.cache/', 'test-artifacts/', 'src/planner/iptables/sha256.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', fetch: 'readonly', WebAssembly: 'readonly', performance: 'readonly', AbortController: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', structuredClone: 'readonly', queueMicrotask: 'readonly', setImmediate: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // Executables without an extension (bin/kubectl-natplan): linted as the JavaScript they are.
    files: ['bin/kubectl-*'],
  },
  {
    // The UI's browser modules (src/ui/static, src/ui/graphiql): no build step, so lint is their only check.
    files: ['src/ui/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(
        ['window', 'document', 'sessionStorage', 'location', 'history', 'navigator', 'Blob', 'File', 'FileReader', 'FormData', 'URLSearchParams', 'Event', 'CustomEvent', 'HTMLElement', 'requestAnimationFrame', 'React', 'ReactDOM', 'GraphiQL'].map((g) => [g, 'readonly']),
      ),
    },
  },
  {
    // Tests read JSON answers of every shape; typing each one would say nothing the assertions do not.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
)
