/**
 * When to push: once the streams have been quiet for `quietMs` after a change, but no later than
 * `maxDelayMs` after the first change not yet pushed, so steady churn (endpoints of a rolling
 * deployment) still reaches the server. The clock is injected: tests drive time by hand.
 */

export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
}

export interface DebounceOptions {
  quietMs: number
  maxDelayMs: number
  clock?: Clock
}

export class Debouncer {
  private readonly clock: Clock
  private timer: unknown = null
  /** When the first change not yet fired came; null when nothing is pending. */
  private firstAt: number | null = null

  constructor(
    private readonly opts: DebounceOptions,
    private readonly fire: () => void,
  ) {
    this.clock = opts.clock ?? systemClock
  }

  get pending(): boolean {
    return this.firstAt !== null
  }

  /** A change: fire after the quiet period from now, or at the maximum delay from the first pending change. */
  touch(): void {
    const now = this.clock.now()
    this.firstAt ??= now
    const due = Math.min(now + this.opts.quietMs, this.firstAt + this.opts.maxDelayMs)
    this.schedule(Math.max(0, due - now))
  }

  /** Fire now when something is pending; true when it did. */
  flush(): boolean {
    if (this.firstAt === null) return false
    this.run()
    return true
  }

  /** Forget what is pending. */
  cancel(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer)
    this.timer = null
    this.firstAt = null
  }

  private schedule(ms: number): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer)
    this.timer = this.clock.setTimeout(() => this.run(), ms)
  }

  private run(): void {
    this.cancel()
    this.fire()
  }
}
