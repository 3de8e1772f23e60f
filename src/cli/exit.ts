/**
 * From an error to an exit code, with one message on stderr: usage 2, a refusal by the server or
 * the input 1 (the problem and its pointers), a file that cannot be read 2. Shared by `natplan`
 * and `kubectl natplan`, which word their messages differently (`prefix`, `usage`).
 */
import { DomainError } from '../errors.js'
import { ApiError } from './client.js'
import { UsageError, type Io } from './io.js'

export interface ErrorStyle {
  /** Starts every message: `natplan: ` or kubectl's `error: `. */
  prefix: string
  /** Printed after a usage error's message. */
  usage: string
}

export function exitCodeOf(err: unknown, io: Io, style: ErrorStyle): number {
  if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    io.stderr.write(`${style.prefix}${(err as Error).message}\n${style.usage}`)
    return 2
  }
  if (err instanceof ApiError) {
    io.stderr.write(`${style.prefix}${err.message}`)
    return 1
  }
  if (err instanceof DomainError) {
    io.stderr.write(`${style.prefix}${err.message}\n${err.issues.map((i) => `  ${i.pointer || '/'}: ${i.detail}\n`).join('')}`)
    return 1
  }
  const e = err as NodeJS.ErrnoException
  if (e.code === 'ENOENT' || e.code === 'EISDIR' || e.code === 'EACCES') {
    io.stderr.write(`${style.prefix}${e.message}\n`)
    return 2
  }
  if (e instanceof TypeError && /fetch failed/.test(e.message)) {
    io.stderr.write(`${style.prefix}cannot reach the server: ${(e.cause as Error | undefined)?.message ?? e.message}\n`)
    return 1
  }
  throw err
}
