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
import { Transform, type Readable, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip, createGzip, gunzipSync, gzipSync } from 'node:zlib'
import tar from 'tar-stream'
import { z } from 'zod'
import { DomainError, UnprocessableError, type ProblemIssue } from '../errors.js'

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
  const consume = pipeline(pack, createGzip({ level: 6 }), async function* (source: AsyncIterable<Buffer>) {
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
  /** Uncompressed bytes accepted (a gzip bomb stops here). */
  maxUncompressedBytes: number
}

export interface VerifiedArchive {
  manifest: Manifest
  sha256: string
  compressedBytes: number
  /** The snapshot.json text of each version (by path). */
  snapshot(path: string): string
  /** sha256 of each file, as read (equal to the manifest's, by construction once verified). */
  fileSha256: Map<string, string>
}

class LimitError extends Error {}

/** Counts (and hashes) bytes going through; errors once past `max`. */
function meter(max: number, hash?: ReturnType<typeof createHash>): Transform & { bytes: number } {
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      t.bytes += chunk.length
      if (t.bytes > max) return cb(new LimitError(`more than ${max} bytes`))
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

/**
 * Parses and verifies an archive stream. Throws UnprocessableError (422) for anything that is
 * not a complete, untampered natplan archive: bad gzip, truncated tar, unexpected or missing
 * files, a checksum or size mismatch, an invalid manifest.
 */
export async function readArchive(body: Readable, limits: ReadArchiveLimits): Promise<VerifiedArchive> {
  const archiveHash = createHash('sha256')
  const compressed = meter(limits.maxCompressedBytes, archiveHash)
  const uncompressed = meter(limits.maxUncompressedBytes)
  const extract = tar.extract()
  const seen = new Map<string, { sha256: string; bytes: number }>()
  const snapshots = new Map<string, Buffer>()
  let manifestText: string | null = null

  const consume = (async () => {
    try {
      await readEntries()
    } catch (err) {
      // Stop the upstream too, or the pipeline would wait forever for a reader.
      extract.destroy(err as Error)
      throw err
    }
  })()
  async function readEntries(): Promise<void> {
    for await (const entry of extract) {
      const name = entryName(entry.header.name)
      // GNU tar, bsdtar and Python's tarfile list the folders they walk: nothing to read there.
      if (entry.header.type === 'directory') {
        entry.resume()
        continue
      }
      if (entry.header.type !== 'file') fail(`archive entry ${name} is not a regular file`)
      if (seen.has(name)) fail(`archive entry ${name} appears twice`)
      const parts: Buffer[] = []
      const h = createHash('sha256')
      let n = 0
      const isManifest = name === 'manifest.json' || /^[^/]+\/manifest\.json$/.test(name)
      const keep = isManifest || name.endsWith('/snapshot.json')
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        h.update(chunk)
        n += chunk.length
        if (keep) parts.push(chunk)
      }
      seen.set(name, { sha256: h.digest('hex'), bytes: n })
      if (isManifest && (manifestText === null || name === 'manifest.json')) manifestText = Buffer.concat(parts).toString('utf8')
      // Kept compressed: memory stays near the archive's own size.
      else if (keep) snapshots.set(name, gzipSync(Buffer.concat(parts), { level: 1 }))
    }
  }

  try {
    await Promise.all([pipeline(body, compressed, createGunzip(), uncompressed, extract), consume])
  } catch (err) {
    if (err instanceof UnprocessableError) throw err
    if (err instanceof LimitError) {
      if (compressed.bytes > limits.maxCompressedBytes) {
        throw new DomainError(413, 'Content Too Large', `the archive is larger than the body limit (${limits.maxCompressedBytes} bytes)`)
      }
      throw new UnprocessableError(`the unpacked archive is larger than the limit (${limits.maxUncompressedBytes} bytes)`)
    }
    fail(`not a readable natplan archive (truncated or corrupt gzip/tar): ${(err as Error).message}`)
  }
  rebase(seen, snapshots)
  const manifest = verifyManifest(manifestText, seen)
  return {
    manifest,
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

/**
 * Archives packed by hand from an unpacked backup (`tar czf b.tgz backup/`) hold it under one
 * folder: the folder that holds manifest.json is the archive's root, and every file must be in it.
 */
function rebase(seen: Map<string, unknown>, snapshots: Map<string, Buffer>): void {
  if (seen.has('manifest.json')) return
  const roots = [...seen.keys()].filter((n) => /^[^/]+\/manifest\.json$/.test(n))
  if (roots.length !== 1) return
  const prefix = roots[0]!.slice(0, -'manifest.json'.length)
  for (const map of [seen, snapshots] as Array<Map<string, unknown>>) {
    for (const [name, value] of [...map]) {
      if (!name.startsWith(prefix)) fail(`archive entry ${name} is outside the backup's folder ${prefix}`)
      map.delete(name)
      map.set(name.slice(prefix.length), value)
    }
  }
}

function verifyManifest(text: string | null, seen: Map<string, { sha256: string; bytes: number }>): Manifest {
  if (text === null) fail('the archive has no manifest.json')
  let raw: unknown
  try {
    raw = JSON.parse(text!)
  } catch {
    fail('manifest.json is not valid JSON', [{ pointer: '/manifest.json', detail: 'invalid JSON' }])
  }
  const parsed = ManifestSchema.safeParse(raw)
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ pointer: '/manifest.json/' + i.path.join('/'), detail: i.message }))
    fail('manifest.json does not describe a natplan archive', issues)
  }
  const manifest = parsed.data!
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
  return manifest
}
