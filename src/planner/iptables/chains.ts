/**
 * Chain names, as pkg/proxy/iptables/proxier.go derives them (servicePortChainName,
 * servicePortEndpointChainName): the first 16 characters of the RFC 4648 base32 encoding of
 * sha256(servicePortName + protocol [+ endpoint]).
 *
 * 16 base32 characters are exactly the first 80 bits (10 bytes) of the digest. A plan hashes
 * once per endpoint (110k times for 10k services x 10 endpoints), and a call into node:crypto
 * costs ~1.5 us, which alone would exceed the JSON.parse time of the snapshot. So ASCII inputs
 * (every Kubernetes name is ASCII) are hashed by the small SHA-256 below; anything else goes to
 * node:crypto. Every endpoint chain name of a service port starts with the same
 * `servicePortName + protocol`, so that prefix is absorbed once (`prefixState`): its whole
 * 64-byte blocks are compressed once, and even the first rounds of the last block, whose
 * message words come from the prefix alone, are run once. Each endpoint then only pays for
 * the rounds its own bytes reach. The test suite checks every path against node:crypto and
 * @scure/base.
 */
import { hash as nodeHash } from 'node:crypto'
import { base32nopad } from '@scure/base'

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

/** Scratch space, reused by every call (the planner is synchronous). */
const W = new Int32Array(64)
const H = new Int32Array(8)

/**
 * One SHA-256 compression of the block in W[0..15] into H. Rounds `from`..63 only, starting
 * from the working variables S[at..at+7] (S = H, at = 0 when from = 0): rounds before `from`
 * were run ahead of time on message words that are the same for every call.
 */
function compress(from: number, S: Int32Array, at = 0): void {
  for (let i = 16; i < 64; i++) {
    const a = W[i - 15]!
    const b = W[i - 2]!
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3)
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10)
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0
  }
  let a = S[at]!, b = S[at + 1]!, c = S[at + 2]!, d = S[at + 3]!, e = S[at + 4]!, f = S[at + 5]!, g = S[at + 6]!, h = S[at + 7]!
  for (let i = from; i < 64; i++) {
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
  H[0] = (H[0]! + a) | 0
  H[1] = (H[1]! + b) | 0
  H[2] = (H[2]! + c) | 0
  H[3] = (H[3]! + d) | 0
  H[4] = (H[4]! + e) | 0
  H[5] = (H[5]! + f) | 0
  H[6] = (H[6]! + g) | 0
  H[7] = (H[7]! + h) | 0
}

/** SHA-256 after absorbing an ASCII prefix (the "midstate"), ready for any suffix. */
export interface PrefixState {
  length: number
  /**
   * One allocation per state (there is one per service port): words 0-7 the hash state after
   * the prefix's whole 64-byte blocks; 8-23 the prefix's remaining bytes as big-endian message
   * words of the next block; 24-31 the working variables after running that block's first
   * `rounds` rounds, whose message words are prefix bytes only and so the same for every suffix.
   */
  words: Int32Array
  tailBytes: number
  rounds: number
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false
  return true
}

/** Absorb `prefix` (null when it is not ASCII: the caller then uses node:crypto). */
export function prefixState(prefix: string): PrefixState | null {
  if (!isAscii(prefix)) return null
  H.set(H0)
  const n = prefix.length
  const whole = n - (n % 64)
  for (let off = 0; off < whole; off += 64) {
    W.fill(0, 0, 16)
    for (let i = 0; i < 64; i++) W[i >> 2]! |= prefix.charCodeAt(off + i) << (24 - (i & 3) * 8)
    compress(0, H)
  }
  const words = new Int32Array(32)
  for (let i = 0; i < 8; i++) words[i] = words[24 + i] = H[i]!
  for (let i = whole; i < n; i++) words[8 + ((i - whole) >> 2)]! |= prefix.charCodeAt(i) << (24 - ((i - whole) & 3) * 8)
  const rounds = (n - whole) >> 2
  runRounds(words, rounds)
  return { length: n, words, tailBytes: n - whole, rounds }
}

/** The first `rounds` (< 16) compression rounds on message words 8..23, in place on words 24..31. */
function runRounds(v: Int32Array, rounds: number): void {
  let a = v[24]!, b = v[25]!, c = v[26]!, d = v[27]!, e = v[28]!, f = v[29]!, g = v[30]!, h = v[31]!
  for (let i = 0; i < rounds; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + v[8 + i]!) | 0
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
  v[24] = a; v[25] = b; v[26] = c; v[27] = d; v[28] = e; v[29] = f; v[30] = g; v[31] = h
}

/**
 * Finish sha256(prefix + suffix) for an ASCII suffix; the digest's first words are left in H.
 * The first block after the midstate skips the rounds precomputed in `words 24-31`.
 */
function finish(ps: PrefixState, suffix: string): void {
  const words = ps.words
  for (let i = 0; i < 8; i++) H[i] = words[i]!
  for (let i = 0; i < 16; i++) W[i] = words[8 + i]!
  const n = suffix.length
  let p = ps.tailBytes
  if (p + n + 9 <= 64) {
    // The common case: the rest fits one block.
    for (let i = 0; i < n; i++, p++) W[p >> 2]! |= suffix.charCodeAt(i) << (24 - (p & 3) * 8)
    W[p >> 2]! |= 0x80 << (24 - (p & 3) * 8)
    W[15] = (ps.length + n) * 8
    compress(ps.rounds, ps.words, 24)
    return
  }
  let from = ps.rounds
  let S = ps.words
  let at = 24
  for (let i = 0; i < n; i++) {
    W[p >> 2]! |= suffix.charCodeAt(i) << (24 - (p & 3) * 8)
    if (++p === 64) {
      compress(from, S, at)
      from = at = 0
      S = H
      W.fill(0, 0, 16)
      p = 0
    }
  }
  W[p >> 2]! |= 0x80 << (24 - (p & 3) * 8)
  if (++p > 56) {
    compress(from, S, at)
    from = at = 0
    S = H
    W.fill(0, 0, 16)
  }
  const bits = (ps.length + n) * 8
  W[14] = Math.floor(bits / 0x100000000)
  W[15] = bits | 0
  compress(from, S, at)
}

const A = Array.from('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', (ch) => ch.charCodeAt(0))

/** base32 of the digest's first 80 bits (16 characters of 5 bits), from H, as one flat string. */
function base32First80(): string {
  const a = H[0]! >>> 0
  const b = H[1]! >>> 0
  const c = H[2]! >>> 0
  return String.fromCharCode(
    A[a >>> 27]!, A[(a >>> 22) & 31]!, A[(a >>> 17) & 31]!, A[(a >>> 12) & 31]!,
    A[(a >>> 7) & 31]!, A[(a >>> 2) & 31]!, A[((a & 3) << 3) | (b >>> 29)]!, A[(b >>> 24) & 31]!,
    A[(b >>> 19) & 31]!, A[(b >>> 14) & 31]!, A[(b >>> 9) & 31]!, A[(b >>> 4) & 31]!,
    A[((b & 15) << 1) | (c >>> 31)]!, A[(c >>> 26) & 31]!, A[(c >>> 21) & 31]!, A[(c >>> 16) & 31]!,
  )
}

/** `KUBE-SEP-` + base32First80 in one fromCharCode call: a flat string, not a rope. */
function sepFirst80(): string {
  const a = H[0]! >>> 0
  const b = H[1]! >>> 0
  const c = H[2]! >>> 0
  return String.fromCharCode(
    75, 85, 66, 69, 45, 83, 69, 80, 45,
    A[a >>> 27]!, A[(a >>> 22) & 31]!, A[(a >>> 17) & 31]!, A[(a >>> 12) & 31]!,
    A[(a >>> 7) & 31]!, A[(a >>> 2) & 31]!, A[((a & 3) << 3) | (b >>> 29)]!, A[(b >>> 24) & 31]!,
    A[(b >>> 19) & 31]!, A[(b >>> 14) & 31]!, A[(b >>> 9) & 31]!, A[(b >>> 4) & 31]!,
    A[((b & 15) << 1) | (c >>> 31)]!, A[(c >>> 26) & 31]!, A[(c >>> 21) & 31]!, A[(c >>> 16) & 31]!,
  )
}

/** 16-character chain-name hash of prefix + suffix, from a prefix state (null: node:crypto). */
export function hashWith(ps: PrefixState | null, prefix: string, suffix: string): string {
  if (ps === null || !isAscii(suffix)) return hash16Crypto(prefix + suffix)
  finish(ps, suffix)
  return base32First80()
}

/**
 * `KUBE-SEP-` + the endpoint chain hash, as one flat string. `ps` is prefixState of
 * servicePortName + protocol; `endpoint` is the `ip:port` identity (`[ip]:port` for IPv6).
 */
export function sepChainName(ps: PrefixState | null, prefix: string, endpoint: string): string {
  if (ps === null || !isAscii(endpoint)) return 'KUBE-SEP-' + hash16Crypto(prefix + endpoint)
  finish(ps, endpoint)
  return sepFirst80()
}

export function hash16(s: string): string {
  return hashWith(prefixState(s), s, '')
}

export function portProtoHash(servicePortName: string, protocol: string): string {
  return hash16(servicePortName + protocol)
}

/** Endpoint chain suffix; `endpoint` is the `ip:port` identity (`[ip]:port` for IPv6). */
export function endpointHash(servicePortName: string, protocol: string, endpoint: string): string {
  const prefix = servicePortName + protocol
  return hashWith(prefixState(prefix), prefix, endpoint)
}

/** The reference path: node:crypto SHA-256 and @scure/base base32. */
export function hash16Crypto(s: string): string {
  return base32nopad.encode(nodeHash('sha256', s, 'buffer').subarray(0, 10))
}

export const SERVICE_CHAIN_PREFIXES = ['KUBE-SVC-', 'KUBE-SVL-', 'KUBE-SEP-', 'KUBE-FW-', 'KUBE-EXT-'] as const
