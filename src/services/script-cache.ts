/**
 * Rendered restore scripts, least-recently-used, bounded by total bytes (lru-cache). A hot
 * script (the latest version, fetched by every node's agent) is then served from one Buffer at
 * memory speed instead of being re-read and re-rendered from ~10k segments. Keys include the
 * plan's sha256, so entries never go stale (plans are immutable) and identical plans of
 * different versions or clusters share one entry. Concurrent misses for one key render once.
 *
 * A script's compressed forms (gzip, and zstd where the runtime has it) are kept beside it under
 * their own keys: compressed once, on the first request that asks for them, then served as they
 * are (a 10k-service script compresses ~7×; compressing it per request would cost a core).
 */
import { promisify } from 'node:util'
import zlib from 'node:zlib'
import { LRUCache } from 'lru-cache'

export type ContentEncoding = 'gzip' | 'zstd'

type Compress = (body: Buffer) => Promise<Buffer>
const gzip = promisify(zlib.gzip) as (body: Buffer, options: zlib.ZlibOptions) => Promise<Buffer>
const zstdCompress = (zlib as unknown as { zstdCompress?: (body: Buffer, cb: (err: Error | null, out: Buffer) => void) => void }).zstdCompress

const COMPRESSORS: Partial<Record<ContentEncoding, Compress>> = {
  // zstd first: it is smaller and faster to decode; Node has it from 22.15 / 23.8 on.
  ...(zstdCompress && { zstd: promisify(zstdCompress) as Compress }),
  gzip: (body) => gzip(body, { level: 6 }),
}

/** The encodings this process can serve, best first. */
export const ENCODINGS: readonly ContentEncoding[] = Object.keys(COMPRESSORS) as ContentEncoding[]

export class ScriptCache {
  private readonly cache: LRUCache<string, Buffer, () => Promise<Buffer>>

  constructor(readonly maxBytes: number) {
    this.cache = new LRUCache<string, Buffer, () => Promise<Buffer>>({
      maxSize: maxBytes,
      // An empty script still takes a slot.
      sizeCalculation: (b) => Math.max(1, b.length),
      // A script larger than the whole budget is served but not kept.
      maxEntrySize: maxBytes,
      fetchMethod: (_key, _stale, { context }) => context(),
    })
  }

  get size(): { entries: number; bytes: number } {
    return { entries: this.cache.size, bytes: this.cache.calculatedSize }
  }

  /** The script under `key`, rendered once by `render` however many ask at the same time. */
  async getOrCreate(key: string, render: () => Promise<Buffer>): Promise<Buffer> {
    const hit = await this.cache.fetch(key, { context: render })
    // fetch() resolves undefined only when the fetch method does; render always gives a Buffer.
    return hit ?? render()
  }

  /** `body` (the script under `key`) in `encoding`, compressed once and kept. */
  async encoded(key: string, body: Buffer, encoding: ContentEncoding): Promise<Buffer> {
    const compress = COMPRESSORS[encoding]
    if (!compress) throw new Error(`no ${encoding} compressor in this runtime`)
    return this.getOrCreate(`${key}|${encoding}`, () => compress(body))
  }
}
