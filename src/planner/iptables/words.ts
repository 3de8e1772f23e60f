/**
 * The last line of defence between a snapshot and a node's firewall: a word taken from the input
 * (a Service port name in a comment, an address, a CIDR, a mark) reaches the restore input only
 * when it cannot end a comment, a word or a line there.
 *
 * iptables-restore splits a line into words at spaces and tabs, groups a double-quoted run into
 * one word, and lets a backslash escape the next character (iptables xshared.c,
 * add_param_to_argv); a newline ends the rule. kube-proxy relies on the API server's validation
 * for its names (pkg/proxy/iptables/proxier.go writes them into `--comment` as they are); natplan
 * validates too (src/planner/kube/validation.ts), and the writers check again here, so that no
 * path that forgets to validate can inject a rule.
 */

/** Thrown by the rule writers for a word that could break out of its place in a rule. */
export class UnsafeWordError extends Error {
  override name = 'UnsafeWordError'
  constructor(
    /** The offending word, as given. */
    readonly word: string,
    /** What it is (`Service port name`, `clusterCIDR`, …). */
    readonly what: string,
    /** RFC 6901 pointer into the envelope, when known. */
    readonly pointer?: string,
  ) {
    super(`${what} ${JSON.stringify(word)} cannot be written into an iptables rule: only printable ASCII without spaces, quotes or backslashes can`)
  }
}

/** A character a word may hold: printable ASCII except space, `"`, `'` and `\`. */
export function isSafeChar(c: number): boolean {
  return c > 0x20 && c < 0x7f && c !== 0x22 && c !== 0x27 && c !== 0x5c
}

/** Every character is one isSafeChar allows, and there is at least one. */
export function isSafeWord(s: string): boolean {
  if (s.length === 0) return false
  for (let i = 0; i < s.length; i++) if (!isSafeChar(s.charCodeAt(i))) return false
  return true
}

/** `s` when it is a safe word; otherwise an UnsafeWordError. */
export function safeWord(s: string, what: string, pointer?: string): string {
  if (!isSafeWord(s)) throw new UnsafeWordError(s, what, pointer)
  return s
}

/**
 * Whether a buffer text (lines each ending in "\n") could only have been written by natplan's
 * planner: every line declares (`:KUBE-…`) or appends to (`-A KUBE-…`) a kube-proxy chain, holds
 * printable ASCII only (spaces included, no backslash), and closes every double quote it opens.
 * Returns the first offending line, or null. Used on stored plans, which older natplan versions
 * wrote before input was validated.
 */
export function unsafeLine(text: string): string | null {
  let start = 0
  while (start < text.length) {
    let end = text.indexOf('\n', start)
    if (end < 0) end = text.length
    if (!text.startsWith('-A KUBE-', start) && !text.startsWith(':KUBE-', start)) return text.slice(start, end)
    let quotes = 0
    for (let i = start; i < end; i++) {
      const c = text.charCodeAt(i)
      if (c === 0x22) quotes++
      else if (c < 0x20 || c > 0x7e || c === 0x5c) return text.slice(start, end)
    }
    if (quotes % 2 !== 0) return text.slice(start, end)
    start = end + 1
  }
  return null
}
