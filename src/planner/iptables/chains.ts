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
 *
 * The compression function itself (FIPS 180-4, 6.2.2) is ./sha256.ts, generated fully unrolled
 * by scripts/sha256-gen.mjs (message schedule in locals, constants inline, no loop over typed
 * arrays). Midstates share one typed array per SLOTS states, since allocating a typed array
 * per state cost more than the rounds it saves; the suffix is stored a byte at a time through
 * a byte view of the block and the ASCII check rides along. 110k chain names (a 10k-service
 * plan) went from ~59 ms to ~35 ms (median, shared 2-core machine).
 */
import { hash as nodeHash } from 'node:crypto'
import { base32nopad } from '@scure/base'
import { compress, K } from './sha256.js'

const H0 = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19])

/** Scratch space, reused by every call (the planner is synchronous): a message block, a hash state. */
const W = new Int32Array(16)
const H = new Int32Array(8)
/**
 * W's bytes: message byte p of the block is WB[p ^ BE]. SHA-256 reads words big-endian, so
 * on a little-endian machine (BE = 3) byte 0 of word 0 is the word's last byte in memory.
 */
const WB = new Uint8Array(W.buffer)
const BE = new Uint8Array(Int32Array.of(1).buffer)[0] === 1 ? 3 : 0

/** SHA-256 after absorbing an ASCII prefix (the "midstate"), ready for any suffix. */
export interface PrefixState {
  length: number
  /**
   * 32 words from `at` (in an array shared by up to SLOTS states: allocating a typed array
   * costs more than hashing a suffix): words 0-7 the hash state after the prefix's whole
   * 64-byte blocks; 8-23 the prefix's remaining bytes as big-endian message words of the next
   * block; 24-31 the working variables after running that block's first `rounds` rounds,
   * whose message words are prefix bytes only and so the same for every suffix.
   */
  words: Int32Array
  at: number
  tailBytes: number
  rounds: number
}

/** States per shared words array (32 KiB). */
const SLOTS = 256
let slab = new Int32Array(32 * SLOTS)
let slabUsed = 32 * SLOTS

/**
 * Write chars [from, from + n) of the ASCII string s (n <= 64) big-endian into W from word 0,
 * zeroing the rest of W. Returns the OR of the chars, > 0x7f when s is not ASCII there.
 */
function packBlock(s: string, from: number, n: number): number {
  let or = 0
  let i = 0
  let wi = 0
  for (; i + 4 <= n; i += 4) {
    const c0 = s.charCodeAt(from + i),
      c1 = s.charCodeAt(from + i + 1),
      c2 = s.charCodeAt(from + i + 2),
      c3 = s.charCodeAt(from + i + 3)
    or |= c0 | c1 | c2 | c3
    W[wi++] = (c0 << 24) | (c1 << 16) | (c2 << 8) | c3
  }
  if (i < n) {
    let acc = 0
    for (let sh = 24; i < n; i++, sh -= 8) {
      const ch = s.charCodeAt(from + i)
      or |= ch
      acc |= ch << sh
    }
    W[wi++] = acc
  }
  while (wi < 16) W[wi++] = 0
  return or
}

/** Absorb `prefix` (null when it is not ASCII: the caller then uses node:crypto). */
export function prefixState(prefix: string): PrefixState | null {
  const n = prefix.length
  const whole = n - (n % 64)
  if (whole > 0) {
    H.set(H0)
    for (let off = 0; off < whole; off += 64) {
      if (packBlock(prefix, off, 64) > 0x7f) return null
      compress(W, 0, H, 0, H, 0, H)
    }
  }
  if (packBlock(prefix, whole, n - whole) > 0x7f) return null
  if (slabUsed === slab.length) {
    slab = new Int32Array(32 * SLOTS)
    slabUsed = 0
  }
  const words = slab
  const at = slabUsed
  slabUsed += 32
  const h = whole > 0 ? H : H0
  for (let i = 0; i < 8; i++) words[at + i] = words[at + 24 + i] = h[i]!
  for (let i = 0; i < 16; i++) words[at + 8 + i] = W[i]!
  const rounds = (n - whole) >> 2
  runRounds(words, at, rounds)
  return { length: n, words, at, tailBytes: n - whole, rounds }
}

/**
 * The first `rounds` (< 16) compression rounds (FIPS 180-4, 6.2.2 step 3) on message words
 * at+8.., in place on the working variables at+24..at+31.
 */
function runRounds(v: Int32Array, at: number, rounds: number): void {
  let a = v[at + 24]!,
    b = v[at + 25]!,
    c = v[at + 26]!,
    d = v[at + 27]!,
    e = v[at + 28]!,
    f = v[at + 29]!,
    g = v[at + 30]!,
    h = v[at + 31]!
  for (let i = 0; i < rounds; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + v[at + 8 + i]!) | 0
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
  v[at + 24] = a
  v[at + 25] = b
  v[at + 26] = c
  v[at + 27] = d
  v[at + 28] = e
  v[at + 29] = f
  v[at + 30] = g
  v[at + 31] = h
}

/**
 * Finish sha256(prefix + suffix); the digest's first words are left in H. False (and H
 * undefined) when the suffix is not ASCII: its bytes are then not its UTF-16 code units.
 * The first block after the midstate skips the rounds precomputed in words 24-31.
 */
function finish(ps: PrefixState, suffix: string): boolean {
  const words = ps.words
  const at = ps.at
  const n = suffix.length
  const p = ps.tailBytes
  if (p + n + 9 > 64) return finishLong(ps, suffix)
  // The common case: the rest fits one block. The prefix's words (zero past its bytes), then
  // the suffix a byte at a time through the byte view of W.
  for (let i = 0; i < 16; i++) W[i] = words[at + 8 + i]!
  let or = 0
  for (let i = 0; i < n; i++) {
    const ch = suffix.charCodeAt(i)
    or |= ch
    WB[(p + i) ^ BE] = ch
  }
  if (or > 0x7f) return false
  // Padding (FIPS 180-4, 5.1.1): a 1 bit, zeros, the bit length (< 2^32 here) in word 15.
  WB[(p + n) ^ BE] = 0x80
  W[15] = (ps.length + n) * 8
  compress(W, ps.rounds, words, at + 24, words, at, H)
  return true
}

/** OR of the characters absorb() wrote since it was reset (> 0x7f: not ASCII). */
let absorbed = 0

/** Writes the characters of `s` into the block's byte view from byte `q`; returns the next byte. */
function absorb(s: string, q: number): number {
  let or = 0
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i)
    or |= ch
    WB[(q + i) ^ BE] = ch
  }
  absorbed |= or
  return q + s.length
}

/** finish(ps, a + b + c) without building the string (the endpoint identity in its parts). */
function finishParts(ps: PrefixState, a: string, b: string, c: string): boolean {
  const n = a.length + b.length + c.length
  const p = ps.tailBytes
  if (p + n + 9 > 64) return finish(ps, a + b + c)
  const words = ps.words
  const at = ps.at
  for (let i = 0; i < 16; i++) W[i] = words[at + 8 + i]!
  absorbed = 0
  const end = absorb(c, absorb(b, absorb(a, p)))
  if (absorbed > 0x7f) return false
  WB[end ^ BE] = 0x80
  W[15] = (ps.length + n) * 8
  compress(W, ps.rounds, words, at + 24, words, at, H)
  return true
}

/** finish when the rest takes two or more blocks (rare); blocks after the first start from H at round 0. */
function finishLong(ps: PrefixState, suffix: string): boolean {
  const n = suffix.length
  let or = 0
  for (let i = 0; i < n; i++) or |= suffix.charCodeAt(i)
  if (or > 0x7f) return false
  const words = ps.words
  for (let i = 0; i < 16; i++) W[i] = words[ps.at + 8 + i]!
  let p = ps.tailBytes
  let from = ps.rounds
  let S = words
  let at = ps.at + 24
  let C = words
  let ct = ps.at
  for (let i = 0; i < n; i++) {
    WB[p ^ BE] = suffix.charCodeAt(i)
    if (++p === 64) {
      compress(W, from, S, at, C, ct, H)
      from = at = ct = 0
      S = C = H
      W.fill(0)
      p = 0
    }
  }
  WB[p ^ BE] = 0x80
  // The 0x80 byte took one more; the length needs the last 8 bytes of a block.
  if (p + 1 > 56) {
    compress(W, from, S, at, C, ct, H)
    from = at = ct = 0
    S = C = H
    W.fill(0)
  }
  const bits = (ps.length + n) * 8
  W[14] = Math.floor(bits / 0x100000000)
  W[15] = bits | 0
  compress(W, from, S, at, C, ct, H)
  return true
}

const A = Array.from('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', (ch) => ch.charCodeAt(0))

/** base32 of the digest's first 80 bits (16 characters of 5 bits), from H, as one flat string. */
function base32First80(): string {
  base32Into(B32, 0)
  return String.fromCharCode.apply(null, B32 as unknown as number[])
}
const B32 = new Uint8Array(16)

/** 16-character chain-name hash of prefix + suffix, from a prefix state (null: node:crypto). */
export function hashWith(ps: PrefixState | null, prefix: string, suffix: string): string {
  return ps !== null && finish(ps, suffix) ? base32First80() : hash16Crypto(prefix + suffix)
}

/**
 * The endpoint chain hash of `pre + ip + post` (the `ip:port` identity in its parts, model.ts
 * Endpoint; `ps` is prefixState of servicePortName + protocol): its 16 base32 characters, written
 * as bytes into `out` at `at`, without concatenating the identity. The rule writers copy them
 * into the plan's text, so no string is made per endpoint (a 25-argument String.fromCharCode
 * costs about as much as the hash).
 */
export function sepHashInto(ps: PrefixState | null, prefix: string, pre: string, ip: string, post: string, out: Uint8Array, at: number): void {
  if (ps !== null && finishParts(ps, pre, ip, post)) return base32Into(out, at)
  const s = hash16Crypto(prefix + pre + ip + post)
  for (let i = 0; i < 16; i++) out[at + i] = s.charCodeAt(i)
}

/** The digest's first 80 bits (in H) as 16 base32 characters (RFC 4648), written as bytes. */
function base32Into(out: Uint8Array, at: number): void {
  const a = H[0]! >>> 0
  const b = H[1]! >>> 0
  const c = H[2]! >>> 0
  out[at] = A[a >>> 27]!
  out[at + 1] = A[(a >>> 22) & 31]!
  out[at + 2] = A[(a >>> 17) & 31]!
  out[at + 3] = A[(a >>> 12) & 31]!
  out[at + 4] = A[(a >>> 7) & 31]!
  out[at + 5] = A[(a >>> 2) & 31]!
  out[at + 6] = A[((a & 3) << 3) | (b >>> 29)]!
  out[at + 7] = A[(b >>> 24) & 31]!
  out[at + 8] = A[(b >>> 19) & 31]!
  out[at + 9] = A[(b >>> 14) & 31]!
  out[at + 10] = A[(b >>> 9) & 31]!
  out[at + 11] = A[(b >>> 4) & 31]!
  out[at + 12] = A[((b & 15) << 1) | (c >>> 31)]!
  out[at + 13] = A[(c >>> 26) & 31]!
  out[at + 14] = A[(c >>> 21) & 31]!
  out[at + 15] = A[(c >>> 16) & 31]!
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
