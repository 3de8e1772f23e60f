/**
 * Rendered restore scripts, least-recently-used, bounded by total bytes. A hot script (the
 * latest version, fetched by every node's agent) is then served from one Buffer at memory
 * speed instead of being re-read and re-rendered from ~10k segments. Keys include the plan's
 * sha256, so entries never go stale (plans are immutable) and identical plans of different
 * versions or clusters share one entry. Concurrent misses for one key render once.
 */
export class ScriptCache {
  private readonly entries = new Map<string, Buffer>()
  private readonly inflight = new Map<string, Promise<Buffer>>()
  private bytes = 0

  constructor(readonly maxBytes: number) {}

  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes }
  }

  get(key: string): Buffer | undefined {
    const hit = this.entries.get(key)
    if (hit) {
      this.entries.delete(key)
      this.entries.set(key, hit)
    }
    return hit
  }

  set(key: string, value: Buffer): void {
    if (value.length > this.maxBytes) return
    const old = this.entries.get(key)
    if (old) {
      this.bytes -= old.length
      this.entries.delete(key)
    }
    this.entries.set(key, value)
    this.bytes += value.length
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break
      this.entries.delete(k)
      this.bytes -= v.length
    }
  }

  /** The cached value, or render it once however many callers ask at the same time. */
  async getOrCreate(key: string, render: () => Promise<Buffer>): Promise<Buffer> {
    const hit = this.get(key)
    if (hit) return hit
    let pending = this.inflight.get(key)
    if (!pending) {
      pending = render()
        .then((buf) => {
          this.set(key, buf)
          return buf
        })
        .finally(() => this.inflight.delete(key))
      this.inflight.set(key, pending)
    }
    return pending
  }
}
