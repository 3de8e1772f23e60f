/**
 * Hostile backup archives, built cheaply: gzip allows several members one after another (RFC
 * 1952 §2.2, and Node's gunzip reads them all), so gigabytes of zeros are one small compressed
 * block repeated. Shared by test/security/archive-bombs.test.ts and bench/attacks.ts.
 */
import { createHash } from 'node:crypto'
import { gzipSync } from 'node:zlib'

const MiB = 1024 * 1024
const zerosMember = (() => {
  let m: Buffer | undefined
  return () => (m ??= gzipSync(Buffer.alloc(64 * MiB), { level: 9 }))
})()

/** A ustar header block for one file of `size` bytes (the data follows it). */
function tarHeader(name: string, size: number): Buffer {
  const b = Buffer.alloc(512)
  b.write(name, 0, 100, 'utf8')
  b.write('0000644\0', 100)
  b.write('0000000\0', 108)
  b.write('0000000\0', 116)
  // sizes over 8 GiB need base-256; ours stay below
  b.write(size.toString(8).padStart(11, '0') + '\0', 124)
  b.write('00000000000\0', 136)
  b.write('        ', 148)
  b.write('0', 156)
  b.write('ustar\0', 257)
  b.write('00', 263)
  let sum = 0
  for (const x of b) sum += x
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148)
  return b
}

function pad(size: number): Buffer {
  return Buffer.alloc((512 - (size % 512)) % 512)
}

/** A file of `zeroMiB` MiB of zeros (a multiple of 64) inside a tar.gz, after optional entries. */
export function zeroBomb(opts: { name: string; zeroMiB: number; before?: Array<{ name: string; body: Buffer }> }): Buffer {
  const head: Buffer[] = []
  for (const e of opts.before ?? []) head.push(tarHeader(e.name, e.body.length), e.body, pad(e.body.length))
  const size = opts.zeroMiB * MiB
  head.push(tarHeader(opts.name, size))
  const members: Buffer[] = [gzipSync(Buffer.concat(head))]
  for (let i = 0; i < opts.zeroMiB / 64; i++) members.push(zerosMember())
  members.push(gzipSync(Buffer.alloc(1024)))
  return Buffer.concat(members)
}

/** A manifest that lists `files` with their sizes and sha256 (what a well-formed archive says). */
export function manifestFor(files: Array<{ path: string; bytes: number; sha256?: string }>, versions: unknown[] = []): Buffer {
  const m = {
    format: 'natplan-backup/1',
    cluster: 'bomb',
    natplanVersion: '0.1.0',
    plannerVersion: '0.1.0+natplan-segment/v1',
    fromVersion: 1,
    toVersion: 1,
    note: null,
    versions: versions.length
      ? versions
      : [
          {
            version: 1,
            kind: 'snapshot',
            createdAt: '2026-01-01T00:00:00.000Z',
            actor: 'x',
            reason: null,
            sourceVersion: null,
            snapshotSha256: '0'.repeat(64),
            planSha256: '0'.repeat(64),
            snapshot: 'versions/1/snapshot.json',
            restore: ['versions/1/restore.rules'],
          },
        ],
    files: files.map((f) => ({ path: f.path, bytes: f.bytes, sha256: f.sha256 ?? createHash('sha256').update('').digest('hex') })),
  }
  return Buffer.from(JSON.stringify(m))
}
