/**
 * Chain names, as pkg/proxy/iptables/proxier.go derives them (servicePortChainName,
 * servicePortEndpointChainName): the first 16 characters of the RFC 4648 base32 encoding of
 * sha256(servicePortName + protocol [+ endpoint]).
 *
 * 16 base32 characters are exactly the first 80 bits (10 bytes) of the digest. A plan hashes
 * once per endpoint (110k times for 10k services x 10 endpoints), and a call into node:crypto
 * costs ~1.5 us, which alone would exceed the JSON.parse time of the snapshot. So inputs that
 * fit one SHA-256 block (< 56 bytes of ASCII: every realistic name) are hashed by a small
 * single-block SHA-256 below; anything longer goes to node:crypto. The test suite checks both
 * paths against node:crypto and @scure/base.
 */
import { hash as nodeHash } from 'node:crypto'
import { base32nopad } from '@scure/base'

export function portProtoHash(servicePortName: string, protocol: string): string {
  return hash16(servicePortName + protocol)
}

/** Endpoint chain suffix; `endpoint` is the `ip:port` identity (`[ip]:port` for IPv6). */
export function endpointHash(servicePortName: string, protocol: string, endpoint: string): string {
  return hash16(servicePortName + protocol + endpoint)
}

const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
])
const H0 = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19])
const W = new Int32Array(64)
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

/** SHA-256 of an ASCII string shorter than 56 bytes (one block); returns the first 3 state words. */
function sha256OneBlock(s: string, out: Int32Array): void {
  W.fill(0, 0, 16)
  const n = s.length
  for (let i = 0; i < n; i++) W[i >> 2]! |= s.charCodeAt(i) << (24 - (i & 3) * 8)
  W[n >> 2]! |= 0x80 << (24 - (n & 3) * 8)
  W[15] = n * 8
  for (let i = 16; i < 64; i++) {
    const a = W[i - 15]!
    const b = W[i - 2]!
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3)
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10)
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0
  }
  let a = H0[0]!, b = H0[1]!, c = H0[2]!, d = H0[3]!, e = H0[4]!, f = H0[5]!, g = H0[6]!, h = H0[7]!
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0
    h = g
    g = f
    f = e
    e = (d + t1) | 0
    d = c
    c = b
    b = a
    a = (t1 + t2) | 0
  }
  out[0] = (H0[0]! + a) | 0
  out[1] = (H0[1]! + b) | 0
  out[2] = (H0[2]! + c) | 0
}

const state = new Int32Array(3)

const CODES = Array.from(ALPHABET, (ch) => ch.charCodeAt(0))

/** base32 of the first 80 bits (16 characters of 5 bits) from the 3 leading state words. */
function base32First80(w: Int32Array): string {
  const a = w[0]! >>> 0
  const b = w[1]! >>> 0
  const c = w[2]! >>> 0
  const A = CODES
  // One fromCharCode call: a single flat string instead of 16 concatenations.
  return String.fromCharCode(
    A[a >>> 27]!, A[(a >>> 22) & 31]!, A[(a >>> 17) & 31]!, A[(a >>> 12) & 31]!,
    A[(a >>> 7) & 31]!, A[(a >>> 2) & 31]!, A[((a & 3) << 3) | (b >>> 29)]!, A[(b >>> 24) & 31]!,
    A[(b >>> 19) & 31]!, A[(b >>> 14) & 31]!, A[(b >>> 9) & 31]!, A[(b >>> 4) & 31]!,
    A[((b & 15) << 1) | (c >>> 31)]!, A[(c >>> 26) & 31]!, A[(c >>> 21) & 31]!, A[(c >>> 16) & 31]!,
  )
}

function isShortAscii(s: string): boolean {
  if (s.length >= 56) return false
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false
  return true
}

export function hash16(s: string): string {
  if (isShortAscii(s)) {
    sha256OneBlock(s, state)
    return base32First80(state)
  }
  return hash16Crypto(s)
}

/** The reference path: node:crypto SHA-256 and @scure/base base32. */
export function hash16Crypto(s: string): string {
  return base32nopad.encode(nodeHash('sha256', s, 'buffer').subarray(0, 10))
}

export const SERVICE_CHAIN_PREFIXES = ['KUBE-SVC-', 'KUBE-SVL-', 'KUBE-SEP-', 'KUBE-FW-', 'KUBE-EXT-'] as const
