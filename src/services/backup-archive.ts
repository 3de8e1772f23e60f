/**
 * The backup archive format: a gzip-compressed ustar archive
 *
 *   manifest.json                 cluster, versions with metadata, sha256 + size of every file
 *   versions/N/restore.rules      the kube-proxy-flavour restore input (first IP family)
 *   versions/N/restore-ipv6.rules the second family's, on dual-stack nodes only
 *   versions/N/snapshot.json      the stored snapshot as an envelope {proxy, resources}
 *
 * Deterministic bytes: entries in a fixed order (manifest, then versions ascending, files by
 * name), mtime 0, uid/gid 0, mode 0644, no user names, and gzip without a timestamp (Node's
 * zlib writes MTIME 0) — the same content always packs to the same sha256.
 *
 * Reading is incremental: gunzip and tar are parsed as the body streams in, every entry is
 * hashed on the fly, and only snapshot.json contents are kept (re-compressed, so memory stays
 * near the archive's compressed size). Nothing is trusted until every checksum matched.
 */
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { Transform, type Readable, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip, createGzip, gunzipSync } from 'node:zlib'
import tar from 'tar-stream'
import { z } from 'zod'
import { BadRequestError, DomainError, LimitError, UnprocessableError, type ProblemIssue } from '../errors.js'

export const ARCHIVE_FORMAT = 'natplan-backup/1'

const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/)
const FilePath = z.string().regex(/^(manifest\.json|versions\/[1-9][0-9]{0,9}\/[a-z0-9.-]+)$/)

export const ManifestVersionSchema = z.object({
  version: z.number().int().positive(),
  kind: z.enum(['snapshot', 'rollback', 'import']),
  createdAt: z.string(),
  actor: z.string(),
  reason: z.string().nullable(),
  sourceVersion: z.number().int().nullable(),
  snapshotSha256: Sha256Hex,
  planSha256: Sha256Hex,
  snapshot: FilePath,
  restore: z.array(FilePath),
})
export type ManifestVersion = z.infer<typeof ManifestVersionSchema>

export const ManifestSchema = z.object({
  format: z.literal(ARCHIVE_FORMAT),
  cluster: z.string().min(1),
  natplanVersion: z.string(),
  plannerVersion: z.string(),
  fromVersion: z.number().int().positive(),
  toVersion: z.number().int().positive(),
  note: z.string().nullable(),
  versions: z.array(ManifestVersionSchema).min(1),
  files: z.array(z.object({ path: FilePath, bytes: z.number().int().nonnegative(), sha256: Sha256Hex })),
})
export type Manifest = z.infer<typeof ManifestSchema>

/** One file of a version, produced on demand (the writer asks twice: hash pass, pack pass). */
export interface ArchiveFile {
  path: string
  content(): Promise<Buffer>
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex')

const FIXED_HEADER = { mode: 0o644, uid: 0, gid: 0, uname: '', gname: '', mtime: new Date(0), type: 'file' as const }

export interface PackedArchive {
  manifest: Manifest
  sha256: string
  bytes: number
}

/**
 * Packs manifest + files into a tar.gz, handing the compressed bytes to `sink` in order.
 * Files are produced twice (first to hash them for the manifest, then to pack them) so a
 * backup of many large versions never sits in memory whole.
 */
export async function packArchive(
  base: Omit<Manifest, 'files' | 'format'>,
  files: readonly ArchiveFile[],
  sink: (chunk: Buffer) => Promise<void>,
): Promise<PackedArchive> {
  const entries: Manifest['files'] = []
  for (const f of files) {
    const body = await f.content()
    entries.push({ path: f.path, bytes: body.length, sha256: sha256(body) })
  }
  const manifest: Manifest = { format: ARCHIVE_FORMAT, ...base, files: entries }
  const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2) + '\n')

  const pack = tar.pack()
  const hash = createHash('sha256')
  let bytes = 0
  const consume = pipeline(pack, createGzip({ level: 6 }), async function (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      hash.update(chunk)
      bytes += chunk.length
      await sink(chunk)
    }
  })
  const write = async () => {
    await addEntry(pack, 'manifest.json', manifestBytes)
    for (const [i, f] of files.entries()) {
      const body = await f.content()
      // The content must not change between the passes (it comes from immutable rows).
      if (sha256(body) !== entries[i]!.sha256) throw new Error(`archive file ${f.path} changed while packing`)
      await addEntry(pack, f.path, body)
    }
    pack.finalize()
  }
  await Promise.all([write(), consume])
  return { manifest, sha256: hash.digest('hex'), bytes }
}

function addEntry(pack: tar.Pack, name: string, body: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry({ ...FIXED_HEADER, name, size: body.length }, body, (err) => (err ? reject(err) : resolve()))
  })
}

/** Re-chunks a byte stream into pieces of exactly `size` bytes (the last may be shorter). */
export function chunker(size: number, emit: (chunk: Buffer) => Promise<void>): { push(b: Buffer): Promise<void>; end(): Promise<void> } {
  let parts: Buffer[] = []
  let held = 0
  return {
    async push(b: Buffer) {
      parts.push(b)
      held += b.length
      while (held >= size) {
        const all = Buffer.concat(parts)
        await emit(all.subarray(0, size))
        parts = [all.subarray(size)]
        held -= size
      }
    },
    async end() {
      if (held > 0) await emit(Buffer.concat(parts))
      parts = []
      held = 0
    },
  }
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface ReadArchiveLimits {
  /** Compressed bytes accepted (the HTTP body limit). */
  maxCompressedBytes: number
  /** Uncompressed bytes accepted (a gzip bomb stops here): NATPLAN_IMPORT_MAX_UNPACKED. */
  maxUncompressedBytes: number
  /** Bytes of one snapshot.json (it is parsed whole later); default: maxCompressedBytes. */
  maxSnapshotBytes?: number
}

/** The manifest is read whole before anything else: no natplan manifest comes near this. */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024

export interface VerifiedArchive {
  manifest: Manifest
  sha256: string
  compressedBytes: number
  /** The snapshot.json text of each version (by path). */
  snapshot(path: string): string
  /** sha256 of each file, as read (equal to the manifest's, by construction once verified). */
  fileSha256: Map<string, string>
}

class MeterError extends Error {}

/** Counts (and hashes) bytes going through; errors once past `max`. */
function meter(max: number, hash?: ReturnType<typeof createHash>): Transform & { bytes: number } {
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      t.bytes += chunk.length
      if (t.bytes > max) return cb(new MeterError(`more than ${max} bytes`))
      hash?.update(chunk)
      cb(null, chunk)
    },
  }) as Transform & { bytes: number }
  t.bytes = 0
  return t
}

const fail = (detail: string, issues: ProblemIssue[] = []): never => {
  throw new UnprocessableError(detail, issues)
}

const unpackedLimit = (limits: ReadArchiveLimits, detail: string, pointer = ''): LimitError =>
  new LimitError(
    422,
    `${detail}; the limit is NATPLAN_IMPORT_MAX_UNPACKED (${limits.maxUncompressedBytes} bytes)`,
    {
      name: 'importMaxUnpackedBytes',
      value: limits.maxUncompressedBytes,
      env: 'NATPLAN_IMPORT_MAX_UNPACKED',
    },
    [{ pointer, detail }],
  )

/**
 * After a refusal the rest of the request body is read and dropped (up to the compressed limit),
 * so the client, still sending, gets the answer instead of a connection reset — what destroying
 * the request stream (as pipeline() does to its source on error) caused: the socket closed under
 * a client that had not finished its upload.
 */
export function drainRequest(body: Readable, maxBytes: number): void {
  let n = 0
  body.removeAllListeners('data')
  body.on('data', (c: Buffer) => {
    n += c.length
    if (n > maxBytes) body.destroy()
  })
  body.on('error', () => {})
  body.resume()
}

/**
 * Parses and verifies an archive stream. Throws UnprocessableError (422) for anything that is
 * not a complete, untampered natplan archive: bad gzip, truncated tar, unexpected or missing
 * files, a checksum or size mismatch, an invalid manifest; a BadRequestError (400) for a
 * manifest that lists a version or a file twice.
 *
 * Limits are enforced from the tar headers, before an entry's bytes are read: the manifest comes
 * first (packArchive writes it first) and every later entry must be a file it lists, of the size
 * it lists; the listed sizes together must fit NATPLAN_IMPORT_MAX_UNPACKED, and a snapshot.json
 * the snapshot limit. So a bomb (a 1,000 MiB file in a 1 MB archive) is refused when its header
 * arrives, having cost nothing; restore scripts are only hashed as they stream, snapshots kept
 * compressed, and a byte meter behind gunzip still stops whatever the headers did not announce.
 * An archive repacked by another tool may hold the manifest later: the entries before it are
 * bounded by their headers against the same limits, and checked against the manifest after it.
 */
export async function readArchive(body: Readable, limits: ReadArchiveLimits): Promise<VerifiedArchive> {
  const maxSnapshot = limits.maxSnapshotBytes ?? limits.maxCompressedBytes
  const archiveHash = createHash('sha256')
  const compressed = meter(limits.maxCompressedBytes, archiveHash)
  const uncompressed = meter(limits.maxUncompressedBytes)
  const extract = tar.extract()
  const seen = new Map<string, { sha256: string; bytes: number }>()
  const snapshots = new Map<string, Buffer>()
  let manifest: Manifest | null = null
  let listed = new Map<string, number>()
  // Archives repacked by hand (GNU tar, bsdtar, Python's tarfile) may hold the backup under one
  // folder (`backup/manifest.json`) and list entries in directory order, the manifest anywhere.
  let prefix = ''
  let early = 0

  async function readEntries(): Promise<void> {
    for await (const entry of extract) {
      // GNU tar, bsdtar and Python's tarfile list the folders they walk: nothing to read there.
      if (entry.header.type === 'directory') {
        entry.resume()
        continue
      }
      const raw = entryName(entry.header.name)
      const size = entry.header.size ?? 0
      if (entry.header.type !== 'file') fail(`archive entry ${raw} is not a regular file`, [{ pointer: `/${raw}`, detail: 'not a regular file' }])
      const isManifest = manifest === null && (raw === 'manifest.json' || /^[^/]+\/manifest\.json$/.test(raw))
      if (isManifest) prefix = raw.slice(0, -'manifest.json'.length)
      const name = manifest === null && !isManifest ? raw : underPrefix(raw, prefix)
      if (seen.has(name)) fail(`archive entry ${name} appears twice`, [{ pointer: `/${name}`, detail: 'appears twice' }])
      if (manifest === null && !isManifest) {
        // Before the manifest (not how natplan packs): bounded by the headers alone, checked
        // against the manifest once it comes (verifyFiles).
        // Unlisted bytes are unchecked bytes: no more of them than one request body may hold.
        early += size
        if (early > maxSnapshot) {
          throw new LimitError(
            422,
            `${early} unpacked bytes come before manifest.json, more than NATPLAN_BODY_LIMIT (${maxSnapshot} bytes) allows there; put manifest.json first, as natplan writes it`,
            { name: 'bodyLimit', value: maxSnapshot, env: 'NATPLAN_BODY_LIMIT' },
            [{ pointer: `/${name}`, detail: `${size} bytes before manifest.json` }],
          )
        }
        await readFile(name, entry as AsyncIterable<Buffer>)
        continue
      }
      if (manifest === null) {
        if (size > MAX_MANIFEST_BYTES) {
          throw new LimitError(
            422,
            `manifest.json is ${size} bytes, more than ${MAX_MANIFEST_BYTES}`,
            { name: 'importMaxManifestBytes', value: MAX_MANIFEST_BYTES },
            [{ pointer: '/manifest.json', detail: `${size} bytes` }],
          )
        }
        const text = await collect(entry as AsyncIterable<Buffer>)
        seen.set(name, { sha256: sha256(text), bytes: text.length })
        manifest = parseManifest(text.toString('utf8'), limits, maxSnapshot)
        listed = new Map(manifest.files.map((f) => [f.path, f.bytes]))
        rebase(seen, snapshots, prefix)
        continue
      }
      const want = listed.get(name)
      if (want === undefined)
        fail(`archive entry ${name} is not listed in the manifest; nothing was imported`, [{ pointer: `/${name}`, detail: 'not listed in the manifest' }])
      if (want !== size)
        fail(`archive entry ${name} is ${size} bytes, the manifest says ${want}; nothing was imported`, [
          { pointer: `/${name}`, detail: `size ${size}, manifest says ${want}` },
        ])
      await readFile(name, entry as AsyncIterable<Buffer>)
    }
  }

  /** Hashes an entry as it streams; a snapshot.json is kept, compressed. */
  async function readFile(name: string, entry: AsyncIterable<Buffer>): Promise<void> {
    const h = createHash('sha256')
    let n = 0
    if (name.endsWith('/snapshot.json')) {
      // Kept compressed: memory stays near the archive's own size.
      const gz = createGzip({ level: 1 })
      const out: Buffer[] = []
      gz.on('data', (c: Buffer) => out.push(c))
      const ended = once(gz, 'end')
      for await (const chunk of entry) {
        h.update(chunk)
        n += chunk.length
        if (!gz.write(chunk)) await once(gz, 'drain')
      }
      gz.end()
      await ended
      snapshots.set(name, Buffer.concat(out))
    } else {
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        h.update(chunk)
        n += chunk.length
      }
    }
    seen.set(name, { sha256: h.digest('hex'), bytes: n })
  }

  // The request body is piped, not pipeline()d: on a refusal the parsers are destroyed, the
  // body is unpiped and drained (drainRequest), so the answer reaches a client still sending.
  const chain = pipeline(compressed, createGunzip(), uncompressed, extract)
  body.pipe(compressed)
  body.on('error', (err) => compressed.destroy(err))
  const consume = readEntries().catch((err: unknown) => {
    compressed.destroy(err as Error)
    extract.destroy(err as Error)
    throw err
  })
  try {
    await Promise.all([chain, consume])
  } catch (err) {
    body.unpipe(compressed)
    drainRequest(body, limits.maxCompressedBytes)
    const first = await consume.then(
      () => err,
      (e: unknown) => e,
    )
    const cause = first instanceof DomainError ? first : err
    if (cause instanceof DomainError) throw cause
    if (cause instanceof MeterError) {
      if (compressed.bytes > limits.maxCompressedBytes) {
        throw new LimitError(413, `the archive is larger than the body limit (${limits.maxCompressedBytes} bytes, NATPLAN_BODY_LIMIT)`, {
          name: 'bodyLimit',
          value: limits.maxCompressedBytes,
          env: 'NATPLAN_BODY_LIMIT',
        })
      }
      throw unpackedLimit(limits, 'the unpacked archive is larger than the limit')
    }
    fail(`not a readable natplan archive (truncated or corrupt gzip/tar): ${(cause as Error).message}`)
  }
  if (manifest === null) fail('the archive has no manifest.json')
  verifyFiles(manifest!, seen)
  return {
    manifest: manifest!,
    sha256: archiveHash.digest('hex'),
    compressedBytes: compressed.bytes,
    snapshot(path) {
      const z = snapshots.get(path)
      if (!z) throw new Error(`no snapshot ${path} in the archive`)
      return gunzipSync(z).toString('utf8')
    },
    fileSha256: new Map([...seen].map(([k, v]) => [k, v.sha256])),
  }
}

/** An entry's path without the `./` that `tar -C dir .` puts before every name. */
function entryName(raw: string): string {
  let name = raw
  while (name.startsWith('./')) name = name.slice(2)
  return name
}

function underPrefix(name: string, prefix: string): string {
  if (!name.startsWith(prefix)) fail(`archive entry ${name} is outside the backup's folder ${prefix}`, [{ pointer: `/${name}`, detail: `not under ${prefix}` }])
  return name.slice(prefix.length)
}

/** Entries read before the manifest named the backup's folder, renamed to paths inside it. */
function rebase(seen: Map<string, unknown>, snapshots: Map<string, Buffer>, prefix: string): void {
  if (prefix === '') return
  for (const map of [seen, snapshots] as Array<Map<string, unknown>>) {
    for (const [name, value] of [...map]) {
      if (name === 'manifest.json') continue
      map.delete(name)
      map.set(underPrefix(name, prefix), value)
    }
  }
}

async function collect(entry: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const chunk of entry) parts.push(chunk)
  return Buffer.concat(parts)
}

/**
 * The manifest, parsed and checked on its own: schema, then no version or file listed twice (a
 * 69 KB archive listing its versions 500 times imported 2,000 versions: 400), then the sizes it
 * announces against the limits (422), all before any other entry is read.
 */
function parseManifest(text: string, limits: ReadArchiveLimits, maxSnapshot: number): Manifest {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    fail('manifest.json is not valid JSON', [{ pointer: '/manifest.json', detail: 'invalid JSON' }])
  }
  const parsed = ManifestSchema.safeParse(raw)
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 20).map((i) => ({ pointer: '/manifest.json/' + i.path.join('/'), detail: i.message }))
    fail('manifest.json does not describe a natplan archive', issues)
  }
  const manifest = parsed.data!
  const dup: ProblemIssue[] = []
  const versions = new Map<number, number>()
  const snapshotOf = new Map<string, number>()
  manifest.versions.forEach((v, i) => {
    const before = versions.get(v.version)
    if (before !== undefined)
      dup.push({ pointer: `/manifest.json/versions/${i}/version`, detail: `version ${v.version} is listed again (first at /manifest.json/versions/${before})` })
    else versions.set(v.version, i)
    const other = snapshotOf.get(v.snapshot)
    if (other !== undefined && before === undefined)
      dup.push({ pointer: `/manifest.json/versions/${i}/snapshot`, detail: `${v.snapshot} is also the snapshot of /manifest.json/versions/${other}` })
    else snapshotOf.set(v.snapshot, i)
  })
  const paths = new Map<string, number>()
  manifest.files.forEach((f, i) => {
    const before = paths.get(f.path)
    if (before !== undefined)
      dup.push({ pointer: `/manifest.json/files/${i}/path`, detail: `${f.path} is listed again (first at /manifest.json/files/${before})` })
    else paths.set(f.path, i)
  })
  if (dup.length > 0) throw new BadRequestError(`manifest.json lists entries more than once (${dup.length}); nothing was imported`, dup.slice(0, 20))
  const total = manifest.files.reduce((sum, f) => sum + f.bytes, 0)
  if (total > limits.maxUncompressedBytes) throw unpackedLimit(limits, `the manifest announces ${total} unpacked bytes`, '/manifest.json/files')
  manifest.files.forEach((f, i) => {
    if (f.path.endsWith('/snapshot.json') && f.bytes > maxSnapshot) {
      throw new LimitError(
        422,
        `${f.path} is ${f.bytes} bytes, more than a snapshot may be (${maxSnapshot} bytes, NATPLAN_BODY_LIMIT)`,
        { name: 'bodyLimit', value: maxSnapshot, env: 'NATPLAN_BODY_LIMIT' },
        [{ pointer: `/manifest.json/files/${i}/bytes`, detail: `${f.bytes} bytes` }],
      )
    }
  })
  return manifest
}

function verifyFiles(manifest: Manifest, seen: Map<string, { sha256: string; bytes: number }>): void {
  const issues: ProblemIssue[] = []
  const listed = new Set<string>()
  for (const f of manifest.files) {
    listed.add(f.path)
    const got = seen.get(f.path)
    const pointer = `/${f.path}`
    if (!got) issues.push({ pointer, detail: 'listed in the manifest but missing from the archive' })
    else if (got.bytes !== f.bytes) issues.push({ pointer, detail: `size ${got.bytes}, manifest says ${f.bytes}` })
    else if (got.sha256 !== f.sha256) issues.push({ pointer, detail: `sha256 ${got.sha256}, manifest says ${f.sha256}` })
  }
  for (const name of seen.keys()) {
    if (name !== 'manifest.json' && !listed.has(name)) issues.push({ pointer: `/${name}`, detail: 'not listed in the manifest' })
  }
  manifest.versions.forEach((v, i) => {
    for (const p of [v.snapshot, ...v.restore]) {
      if (!listed.has(p)) issues.push({ pointer: `/manifest.json/versions/${i}`, detail: `refers to ${p}, which the manifest does not list` })
    }
  })
  if (issues.length > 0) fail('the archive failed verification; nothing was imported', issues)
}
