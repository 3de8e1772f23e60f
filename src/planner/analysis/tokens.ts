/**
 * Splitting a rule line into arguments, and quoting an argument back the way iptables-save does.
 *
 * Splitting follows iptables-restore's own line tokenizer (iptables `xshared.c`,
 * add_param_to_argv): whitespace separates arguments, double quotes group, and a backslash makes
 * the next character literal (that is how `iptables-save` writes a `"` inside a comment: `\"`).
 * kube-proxy writes the quotes itself as part of the argument (pkg/proxy/iptables/proxier.go,
 * e.g. `"ns1/svc1:p80 cluster IP"`), which this tokenizer reads back to the bare value.
 */

export class TokenizeError extends Error {}

/** Splits one restore/save line into arguments (quotes removed, escapes resolved). */
export function tokenize(line: string): string[] {
  const out: string[] = []
  let cur = ''
  let inToken = false
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (c === '\\' && i + 1 < line.length) {
      cur += line[++i]
      inToken = true
    } else if (c === '"') {
      quoted = !quoted
      inToken = true
    } else if (!quoted && (c === ' ' || c === '\t')) {
      if (inToken) out.push(cur)
      cur = ''
      inToken = false
    } else {
      cur += c
      inToken = true
    }
  }
  if (quoted) throw new TokenizeError('unterminated double quote')
  if (inToken) out.push(cur)
  return out
}

// iptables `xtables_save_string` (libxtables/xtables.c): values made only of these characters
// are printed bare; anything else is double-quoted with `"`, `\` and `'` backslash-escaped.
// Verified on iptables 1.8.9, both backends: `abc-def_1` bare, `a.b` and `ns1/svc1` quoted.
const BARE = /^[A-Za-z0-9_-]+$/

/** An argument as iptables-save prints it. */
export function saveQuote(value: string): string {
  if (BARE.test(value)) return value
  return `"${value.replace(/["\\']/g, (m) => `\\${m}`)}"`
}
