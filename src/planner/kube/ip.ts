/**
 * Lenient IP / CIDR parsing, as kube-proxy does it.
 *
 * kube-proxy parses addresses with k8s.io/utils/net ParseIPSloppy / ParseCIDRSloppy, a fork of
 * Go's pre-1.17 parser: IPv4 octets may carry leading zeros and are read as DECIMAL
 * (`172.30.0.041` is 172.30.0.41, not octal). The address is then printed canonically (Go's
 * net.IP.String(): dotted quad for IPv4 and IPv4-mapped IPv6, RFC 5952 for IPv6). Upstream test:
 * TestBadIPs in pkg/proxy/iptables/proxier_test.go.
 */
import ipaddr from 'ipaddr.js'
import type { Family } from '../types.js'

export interface ParsedIP {
  family: Family
  /** Canonical text, e.g. `10.180.0.1`, `2001:db8::1`. */
  text: string
  /** The address bytes (4 or 16), for CIDR containment. */
  bytes: number[]
}

export interface ParsedCIDR {
  family: Family
  /** Masked network form, e.g. `10.0.0.0/24` for input `10.0.0.5/24`. */
  text: string
  prefix: number
  bytes: number[]
}

/** Four decimal octets, leading zeros allowed (Go's old dtoi reads them as decimal); > 255 is invalid. */
function parseIPv4Sloppy(s: string): number[] | null {
  const out = [0, 0, 0, 0]
  let octet = 0
  let digits = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 48 && c <= 57) {
      out[octet] = out[octet]! * 10 + (c - 48)
      if (out[octet]! > 255) return null
      digits++
    } else if (c === 46 && digits > 0 && octet < 3) {
      octet++
      digits = 0
    } else return null
  }
  return octet === 3 && digits > 0 ? out : null
}

/**
 * Fast path for the hot loop over endpoint addresses: the canonical text of an IPv4 address,
 * or null when `s` is not plain dotted-quad IPv4 (the caller then uses parseIPSloppy).
 */
export function canonicalIPv4(s: string): string | null {
  let octet = 0
  let digits = 0
  let value = 0
  let leadingZero = false
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 48 && c <= 57) {
      if (digits > 0 && value === 0) leadingZero = true
      value = value * 10 + (c - 48)
      if (value > 255) return null
      digits++
    } else if (c === 46 && digits > 0 && octet < 3) {
      octet++
      digits = 0
      value = 0
    } else return null
  }
  if (octet !== 3 || digits === 0) return null
  return leadingZero ? parseIPv4Sloppy(s)!.join('.') : s
}

/** Go's ParseIPSloppy + String(); null when kube-proxy would fail to parse it. */
export function parseIPSloppy(s: string): ParsedIP | null {
  if (typeof s !== 'string' || s.length === 0) return null
  if (!s.includes(':')) {
    const b = parseIPv4Sloppy(s)
    return b ? { family: 'IPv4', text: b.join('.'), bytes: b } : null
  }
  // Go rejects zones (`fe80::1%eth0`); ipaddr.js would accept them.
  if (s.includes('%') || !ipaddr.IPv6.isValid(s)) return null
  let v6: ipaddr.IPv6
  try {
    v6 = ipaddr.IPv6.parse(s)
  } catch {
    return null
  }
  if (v6.isIPv4MappedAddress()) {
    // Go treats ::ffff:a.b.c.d as an IPv4 address (To4() != nil) and prints it dotted.
    const b = v6.toIPv4Address().toByteArray()
    return { family: 'IPv4', text: b.join('.'), bytes: b }
  }
  return { family: 'IPv6', text: v6.toRFC5952String(), bytes: v6.toByteArray() }
}

/** Go's ParseCIDRSloppy, masked (`cidr.String()` prints the network address). */
export function parseCIDRSloppy(s: string): ParsedCIDR | null {
  if (typeof s !== 'string') return null
  const slash = s.indexOf('/')
  if (slash < 0) return null
  const ip = parseIPSloppy(s.slice(0, slash))
  const p = s.slice(slash + 1)
  if (!ip || !/^\d+$/.test(p)) return null
  const prefix = Number.parseInt(p, 10)
  const max = ip.family === 'IPv4' ? 32 : 128
  if (prefix > max) return null
  // A ::ffff:a.b.c.d/n CIDR keeps IPv6 prefix semantics in Go; such input is exotic, keep it simple.
  const bytes = maskBytes(ip.bytes, prefix)
  const net = ip.family === 'IPv4' ? bytes.join('.') : (ipaddr.fromByteArray(bytes) as ipaddr.IPv6).toRFC5952String()
  return { family: ip.family, text: `${net}/${prefix}`, prefix, bytes }
}

function maskBytes(bytes: number[], prefix: number): number[] {
  return bytes.map((b, i) => {
    const bits = Math.max(0, Math.min(8, prefix - i * 8))
    return bits === 0 ? 0 : b & (0xff << (8 - bits)) & 0xff
  })
}

export function cidrContains(cidr: ParsedCIDR, ip: ParsedIP): boolean {
  if (cidr.family !== ip.family) return false
  const masked = maskBytes(ip.bytes, cidr.prefix)
  for (let i = 0; i < masked.length; i++) if (masked[i] !== cidr.bytes[i]) return false
  return true
}

export function isZeroCIDR(cidr: ParsedCIDR): boolean {
  return cidr.prefix === 0
}

export function isLoopback(ip: ParsedIP): boolean {
  return ip.family === 'IPv4' ? ip.bytes[0] === 127 : ip.text === '::1'
}
