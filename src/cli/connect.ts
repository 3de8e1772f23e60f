/**
 * The flags of every command that talks to a server (`--url`, `--cluster`, `--token`), checked
 * once, and the version and node arguments as the routes take them.
 */
import { Client } from './client.js'
import { UsageError, type Io } from './io.js'

export const serverOptions = {
  url: { type: 'string' },
  cluster: { type: 'string' },
  token: { type: 'string' },
} as const

export function connect(values: { url?: string; cluster?: string; token?: string }, io: Io, command: string): { client: Client; cluster: string } {
  if (!values.url) throw new UsageError(`${command} needs --url (e.g. http://127.0.0.1:8080)`)
  if (!values.cluster) throw new UsageError(`${command} needs --cluster NAME`)
  return { client: new Client({ url: values.url, token: values.token ?? io.env.NATPLAN_TOKEN }), cluster: values.cluster }
}

/** A version as the routes take it: a number or `latest` (checked here, so a typo is a usage error, not a 400). */
export function versionArg(value: string | undefined, flag: string): string {
  if (value === undefined) return 'latest'
  if (!/^(latest|[1-9][0-9]{0,8})$/.test(value)) throw new UsageError(`${flag} must be a version number or "latest", got "${value}"`)
  return value
}
