/**
 * The event stream of `kubectl get KIND --watch --output-watch-events -o json`, read as it
 * arrives.
 *
 * What kubectl prints: for each object of its initial list an ADDED event, then every event of
 * the watch (staging/src/k8s.io/kubectl/pkg/cmd/get/get.go, GetOptions.watch), each a
 * metav1.WatchEvent `{"type":"ADDED","object":{…}}`. The JSON printer writes a WatchEvent with
 * json.Marshal, compact, and a newline after it — one event per line — while plain objects get
 * MarshalIndent's four-space indentation (staging/src/k8s.io/cli-runtime/pkg/printers/json.go,
 * JSONPrinter.PrintObj). Both layouts are read here: a value is complete when its braces balance,
 * and a new one starts with `{` at column 0.
 *
 * A broken value (the pipe died mid-object and a restarted kubectl carried on writing) is
 * reported and dropped, and reading resumes at the restarted writer's first value: the next `{`
 * at column 0, or, inside the broken text, the start of a compact event (`{"type":"ADDED","object":`)
 * or of an indented value (`{` then a line indented by four spaces, which inside a valid indented
 * value only follows a `{` at column 0).
 */

export const EVENT_TYPES = ['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR'] as const
export type WatchEventType = (typeof EVENT_TYPES)[number]

export interface WatchEvent {
  type: WatchEventType
  object: Record<string, unknown>
  /** Line of the stream the event starts on (1-based). */
  line: number
}

/** Something in the stream that is not an event: reported, skipped, and reading goes on. */
export interface StreamProblem {
  line: number
  detail: string
  /** An object was cut off: the writer died mid-object (and a new one may have started). */
  broken?: true
}

export type StreamItem = { event: WatchEvent } | { problem: StreamProblem }

/** A value larger than this is dropped unread (the server's default body limit, NATPLAN_BODY_LIMIT). */
export const MAX_VALUE_BYTES = 64 * 1024 * 1024

/**
 * Where, in a broken value's text, a restarted writer's first value begins (after index 0); -1
 * if nowhere. A `{` that ends the text right after a character that cannot precede a `{` in
 * indented JSON (`"na{`) counts: the rest of that value is on the lines still to come.
 */
export function restartIndex(text: string): number {
  const compact = /\{"type":"(?:ADDED|MODIFIED|DELETED|BOOKMARK|ERROR)","object":/g
  compact.lastIndex = 1
  const c = compact.exec(text)
  const indented = /[^\n]\{\n {4}"/.exec(text)
  const last = /[^\s:,[]\{$/.exec(text)
  const candidates = [c ? c.index : -1, indented ? indented.index + 1 : -1, last ? last.index + 1 : -1].filter((n) => n > 0)
  return candidates.length > 0 ? Math.min(...candidates) : -1
}

/** The first few characters of a text, for a report. */
function excerpt(text: string): string {
  const one = text.replace(/\s+/g, ' ').trim()
  return one.length > 60 ? `${one.slice(0, 60)}…` : one
}

/**
 * Feed it text as it comes (`push`), then `end()`; each returns the events and problems the text
 * completed, in stream order.
 */
export class WatchStreamParser {
  private carry = ''
  private lineNo = 0
  /** Lines of the value being read; empty between values. */
  private pending: string[] = []
  private pendingBytes = 0
  private pendingLine = 0
  private depth = 0
  private inString = false
  private escaped = false
  /** Skipping lines that are not the start of a value (reported once, when it began). */
  private skipping = false
  private out: StreamItem[] = []

  /** `maxValueBytes`: a value (or a line) larger than this is dropped unread. */
  constructor(private readonly maxValueBytes = MAX_VALUE_BYTES) {}

  /** Dropping the rest of a line longer than maxValueBytes, up to its newline. */
  private droppingLine = false

  push(chunk: string): StreamItem[] {
    const text = this.carry + chunk
    let start = 0
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      if (this.droppingLine) this.droppingLine = false
      else this.line(text.slice(start, nl), ++this.lineNo)
      start = nl + 1
    }
    this.carry = this.droppingLine ? '' : text.slice(start)
    // A line with no end in sight is not kept in memory: reported, and dropped up to its newline.
    if (this.carry.length + this.pendingBytes > this.maxValueBytes) {
      this.out.push({ problem: { line: ++this.lineNo, detail: `a line or object larger than ${this.maxValueBytes} bytes, skipped` } })
      this.carry = ''
      this.reset()
      this.skipping = true
      this.droppingLine = true
    }
    return this.take()
  }

  /** The input ended: a last line without a newline still counts; a value left open is broken. */
  end(): StreamItem[] {
    if (this.carry !== '') this.line(this.carry, ++this.lineNo)
    this.carry = ''
    if (this.pending.length > 0) this.broken('the input ended inside it')
    return this.take()
  }

  private take(): StreamItem[] {
    const out = this.out
    this.out = []
    return out
  }

  private reset(): void {
    this.pending = []
    this.pendingBytes = 0
    this.depth = 0
    this.inString = false
    this.escaped = false
  }

  private line(line: string, lineNo: number): void {
    if (this.pending.length === 0) {
      if (line.trim() === '') return
      if (line[0] !== '{') {
        const at = restartIndex(line)
        if (!this.skipping)
          this.out.push({
            problem: { line: lineNo, detail: `not a watch event, skipped up to the next object: ${excerpt(at > 0 ? line.slice(0, at) : line)}` },
          })
        this.skipping = at <= 0
        if (at > 0) this.line(line.slice(at), lineNo)
        return
      }
      this.skipping = false
      this.pendingLine = lineNo
    } else if (line[0] === '{') {
      // A value never starts inside another at column 0: the one being read was cut off.
      // (What a restarted writer left inside it may itself be cut off by this line.)
      while (this.pending.length > 0) this.broken(`a new object began at line ${lineNo}`)
      this.pendingLine = lineNo
    }
    this.pending.push(line)
    this.pendingBytes += line.length + 1
    for (let i = 0; i < line.length; i++) {
      const c = line.charCodeAt(i)
      if (this.inString) {
        if (this.escaped) this.escaped = false
        else if (c === 0x5c) this.escaped = true
        else if (c === 0x22) this.inString = false
        continue
      }
      if (c === 0x22) this.inString = true
      else if (c === 0x7b || c === 0x5b) this.depth++
      else if (c === 0x7d || c === 0x5d) {
        if (--this.depth === 0) {
          const rest = line.slice(i + 1)
          this.pending[this.pending.length - 1] = line.slice(0, i + 1)
          const text = this.pending.join('\n')
          const at = this.pendingLine
          this.reset()
          this.value(text, at)
          if (rest.trim() !== '') this.line(rest.trimStart(), lineNo)
          return
        }
      }
    }
    // JSON strings hold no raw newline (json.Marshal escapes it): a string open at the end of a
    // line means the writer stopped inside it.
    if (this.inString) this.broken(`line ${lineNo} ends inside a string`)
    else if (this.pendingBytes > this.maxValueBytes) {
      this.out.push({ problem: { line: this.pendingLine, detail: `an object larger than ${this.maxValueBytes} bytes, skipped` } })
      this.reset()
      this.skipping = true
    }
  }

  /** The value being read is cut off: report it, then read on from a restarted writer's value inside it, if any. */
  private broken(why: string): void {
    const text = this.pending.join('\n')
    const at = this.pendingLine
    this.reset()
    this.dropped(text, at, why)
  }

  private dropped(text: string, at: number, why: string): void {
    const restart = restartIndex(text)
    const kept = restart > 0 ? text.slice(0, restart) : text
    this.out.push({ problem: { line: at, detail: `a broken object (${kept.length} bytes: ${excerpt(kept)}), skipped: ${why}`, broken: true } })
    // Without a restart inside it, what follows up to the next object belongs to the broken one.
    this.skipping = restart <= 0
    if (restart > 0) {
      const lines = text.slice(restart).split('\n')
      const first = at + (text.slice(0, restart).match(/\n/g)?.length ?? 0)
      lines.forEach((l, i) => this.line(l, first + i))
    }
  }

  private value(text: string, line: number): void {
    let doc: unknown
    try {
      doc = JSON.parse(text)
    } catch (err) {
      this.dropped(text, line, (err as Error).message)
      return
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
      this.out.push({ problem: { line, detail: 'not a watch event (expected {"type": …, "object": {…}}), skipped' } })
      return
    }
    const d = doc as Record<string, unknown>
    if (!('type' in d) && typeof d.kind === 'string') {
      this.out.push({
        problem: {
          line,
          detail: `a bare ${d.kind} object, not a watch event, skipped: run kubectl with --output-watch-events (without it a deleted object looks like a changed one)`,
        },
      })
      return
    }
    if (!(EVENT_TYPES as readonly unknown[]).includes(d.type)) {
      this.out.push({
        problem: { line, detail: `a watch event of unknown type ${JSON.stringify(d.type)}, skipped (kubectl prints ${EVENT_TYPES.join(', ')})` },
      })
      return
    }
    if (typeof d.object !== 'object' || d.object === null || Array.isArray(d.object)) {
      this.out.push({ problem: { line, detail: `a ${String(d.type)} event without an object, skipped` } })
      return
    }
    this.out.push({ event: { type: d.type as WatchEventType, object: d.object as Record<string, unknown>, line } })
  }
}
