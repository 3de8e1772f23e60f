/** The package's version, for `natplan version` and `kubectl natplan version`. */
import { readFileSync } from 'node:fs'

let cached: string | undefined

/**
 * From package.json, found upwards from this file: src/cli/ under tsx, dist/src/cli/ when
 * built, so the depth differs (and importing the JSON would copy it into dist/).
 */
export function packageVersion(): string {
  if (cached) return cached
  for (let up = '../'; up.length <= 12; up += '../') {
    try {
      const pkg = JSON.parse(readFileSync(new URL(`${up}package.json`, import.meta.url), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'natplan' && pkg.version) return (cached = pkg.version)
    } catch {
      // not at this depth
    }
  }
  return (cached = 'unknown')
}
