/** Conditional GETs of the content-addressed, immutable responses (scripts, backups). */

/** Whether an If-None-Match header matches `etag` (RFC 9110 §13.1.2: the weak comparison). */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false
  if (header.trim() === '*') return true
  const bare = etag.replace(/^W\//, '')
  return header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === bare)
}
