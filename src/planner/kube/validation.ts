/**
 * The API server's own validation of the fields that reach a rule or a stored key, so that a
 * snapshot natplan accepts holds nothing the cluster could not hold. Each check is a paraphrase
 * of the apimachinery function named beside it (k8s.io/apimachinery/pkg/util/validation/
 * validation.go unless said otherwise) and returns its error messages, none when valid.
 *
 * Addresses are checked the way the API server checks existing ("legacy") fields: leading zeros
 * in IPv4 octets are accepted and read as decimal (IsValidIPForLegacyField,
 * k8s.io/apimachinery/pkg/util/validation/ip.go), which is what kube-proxy's sloppy parser
 * reads back (./ip.ts).
 */
import { parseCIDRSloppy, parseIPSloppy } from './ip.js'

export type Check = (value: string) => string[]

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/

function tooLong(value: string, max: number): string[] {
  return value.length > max ? [`must be no more than ${max} characters`] : []
}

/** IsDNS1123Label: namespaces, port names. */
export const isDNS1123Label: Check = (v) => [
  ...tooLong(v, 63),
  ...(DNS1123_LABEL.test(v)
    ? []
    : ["a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"]),
]

/** IsDNS1123Subdomain: EndpointSlice, Endpoints and Node names. */
export const isDNS1123Subdomain: Check = (v) => [
  ...tooLong(v, 253),
  ...(DNS1123_SUBDOMAIN.test(v)
    ? []
    : ["a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"]),
]

/** IsDNS1035Label: Service names (pkg/apis/core/validation ValidateServiceName). */
export const isDNS1035Label: Check = (v) => [
  ...tooLong(v, 63),
  ...(DNS1035_LABEL.test(v)
    ? []
    : [
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
      ]),
]

/** IsQualifiedName: label keys, `[prefix/]name`. */
export const isQualifiedName: Check = (v) => {
  const parts = v.split('/')
  if (parts.length > 2) return ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', with an optional DNS subdomain prefix and '/'"]
  const name = parts.at(-1)!
  const errs: string[] = []
  if (parts.length === 2) {
    if (parts[0] === '') errs.push('prefix part must be non-empty')
    else errs.push(...isDNS1123Subdomain(parts[0]!).map((m) => `prefix part ${m}`))
  }
  if (name === '') errs.push('name part must be non-empty')
  else {
    if (name.length > 63) errs.push('name part must be no more than 63 characters')
    if (!QUALIFIED_NAME.test(name))
      errs.push("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")
  }
  return errs
}

/** IsValidLabelValue: label values, topology zones. */
export const isValidLabelValue: Check = (v) => [
  ...tooLong(v, 63),
  ...(LABEL_VALUE.test(v)
    ? []
    : ["a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"]),
]

/** IsValidPortName: an IANA_SVC_NAME (RFC 6335), as a string targetPort must be. */
export const isValidPortName: Check = (v) => {
  const errs: string[] = []
  if (v.length < 1 || v.length > 15) errs.push('must be no more than 15 characters')
  if (!/^[-a-z0-9]+$/.test(v)) errs.push('must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)')
  if (!/[a-z]/.test(v)) errs.push('must contain at least one letter (a-z)')
  if (v.includes('--')) errs.push("must not contain consecutive hyphens ('--')")
  if (v.startsWith('-') || v.endsWith('-')) errs.push("must not begin or end with a hyphen ('-')")
  return errs
}

/** IsValidIPForLegacyField: an IP address, leading zeros in IPv4 octets allowed. */
export const isValidIP: Check = (v) => (parseIPSloppy(v) ? [] : ['must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'])

/** IsValidCIDRForLegacyField: a CIDR, leading zeros allowed as in isValidIP. */
export const isValidCIDR: Check = (v) => (parseCIDRSloppy(v) ? [] : ['must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'])

/** An address of the given family (EndpointSlice addresses: IsValidIPv4Address / IsValidIPv6Address). */
export function isValidIPOfFamily(family: 'IPv4' | 'IPv6'): Check {
  return (v) => {
    const p = parseIPSloppy(v)
    if (!p) return [`must be a valid ${family} address`]
    return p.family === family ? [] : [`must be a valid ${family} address`]
  }
}

/**
 * ValidateNonSpecialIP (pkg/apis/core/validation/validation.go): external IPs and endpoint
 * addresses may not be unspecified, loopback, link-local unicast or link-local multicast.
 */
export const isNonSpecialIP: Check = (v) => {
  const p = parseIPSloppy(v)
  if (!p) return []
  const b = p.bytes
  if (b.every((x) => x === 0)) return ['may not be unspecified (0.0.0.0, ::)']
  if (p.family === 'IPv4') {
    if (b[0] === 127) return ['may not be in the loopback range (127.0.0.0/8, ::1/128)']
    if (b[0] === 169 && b[1] === 254) return ['may not be in the link-local range (169.254.0.0/16, fe80::/10)']
    if (b[0] === 224 && b[1] === 0 && b[2] === 0) return ['may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)']
    return []
  }
  if (p.text === '::1') return ['may not be in the loopback range (127.0.0.0/8, ::1/128)']
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return ['may not be in the link-local range (169.254.0.0/16, fe80::/10)']
  if (b[0] === 0xff && (b[1]! & 0x0f) === 0x02) return ['may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)']
  return []
}

/** IsFullyQualifiedDomainName: at least two labels, a subdomain otherwise (a trailing dot allowed). */
export const isFQDN: Check = (v) => {
  const name = v.endsWith('.') ? v.slice(0, -1) : v
  const errs = isDNS1123Subdomain(name)
  if (errs.length === 0 && !name.includes('.')) errs.push('should be a domain with at least two segments separated by dots')
  return errs
}

/** All of the checks, in order. */
export function allOf(...checks: Check[]): Check {
  return (v) => checks.flatMap((c) => c(v))
}
