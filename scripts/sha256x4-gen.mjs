#!/usr/bin/env node
/**
 * Writes src/planner/iptables/sha256x4.wat (for review) and src/planner/iptables/sha256x4.ts
 * (the assembled bytes, base64): the SHA-256 compression function (FIPS 180-4, section 6.2.2)
 * on four blocks at once in WebAssembly SIMD (i32x4, one message per lane), for the batched
 * endpoint chain names in src/planner/iptables/chains.ts (sepChainNamesOf).
 *
 * Why: every endpoint chain name of a service port hashes the same prefix (servicePortName +
 * protocol) then the endpoint's `ip:port`, so the last block of four endpoints differs only
 * in the bytes past the prefix and all four lanes start from the same precomputed state. The
 * i32x4 rounds cost about what one scalar round costs in JS, for four hashes.
 *
 * Why generated: the 64 rounds are written out (constants inline, working variables renamed
 * rather than rotated, as scripts/sha256-gen.mjs does for the JS version); only the constants
 * and names differ from round to round. The schedule W_t + K_t is computed first into scratch
 * memory, so that the rounds keep only the working variables in the 16 vector registers
 * (keeping the schedule in locals too spilled and measured no faster). wabt (an exact-pinned
 * devDependency) assembles the text here, so the runtime needs no tool.
 *
 * Memory (two 64 KiB pages, little-endian), shared with chains.ts:
 *   0..35     the working variables a..h to enter round `from` with, slot j holding the value
 *             of the local V[j] (JS rotates the prefix state's words for `from`, see below)
 *   64..75    the chaining value's words 0-2 (the digest is C + the working variables)
 *   1024..    groups of 256 bytes: message word t of lane L at 16 t + 4 L, as a little-endian
 *             i32 (so JS stores byte p of a lane's block at 16 (p >> 2) + 4 L + (3 - (p & 3)));
 *             on return words 0-2 hold the digest's first three words, lane L at 16 j + 4 L.
 *   65536..   scratch: K_t + W_t of the group in progress (64 v128)
 *
 * run(from, groups) compresses `groups` groups, skipping rounds 0..from-1 (from < 16), which
 * the caller ran once per prefix because their message words are prefix bytes only.
 *
 * Usage: node scripts/sha256x4-gen.mjs, then commit both outputs
 * (test/planner/chains-batch.test.ts checks the result against node:crypto).
 */
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import wabtInit from 'wabt'

// FIPS 180-4, 4.2.2: the first 32 bits of the fractional parts of the cube roots of the first
// 64 primes.
const K = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]

const STATE = 0
const CHAIN = 64
const GROUPS = 1024
const GROUP_BYTES = 256
/** K_t + W_t for the group in progress, 64 v128 (the second page). */
const SCHED = 65536

// Folded S-expressions for i32x4 values.
const get = (x) => `(local.get $${x})`
const set = (x, v) => `(local.set $${x} ${v})`
const xor = (a, b) => `(v128.xor ${a} ${b})`
const add = (a, b) => `(i32x4.add ${a} ${b})`
const shr = (a, n) => `(i32x4.shr_u ${a} (i32.const ${n}))`
// No SIMD rotate in WebAssembly: ROTR^n(x) = (x >>> n) | (x << (32 - n)) (FIPS 180-4, 3.2).
const rotr = (a, n) => `(v128.or ${shr(a, n)} (i32x4.shl ${a} (i32.const ${32 - n})))`
const konst = (k) => `(v128.const i32x4 ${k | 0} ${k | 0} ${k | 0} ${k | 0})`
const w = (t) => `w${t % 16}`

const V = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']
/** The local holding round t's working variable i: names rotate instead of values (see sha256-gen.mjs). */
const at = (t, i) => V[(((i - t) % 8) + 8) % 8]

const ld = (t) => `(v128.load offset=${16 * t} (i32.const ${SCHED}))`
const sig = (x, r1, r2, r3) => xor(xor(rotr(x, r1), rotr(x, r2)), r3 < 0 ? shr(x, -r3) : rotr(x, r3))

/**
 * The message schedule (6.2.2 step 1) into the scratch page, K_t added (rounds only ever use
 * K_t + W_t): computed up front, so the rounds keep only the working variables in registers.
 */
function schedule() {
  const lines = []
  for (let t = 0; t < 16; t++) lines.push(`(v128.store offset=${16 * t} (i32.const ${SCHED}) (i32x4.add ${konst(K[t])} (local.get $w${t})))`)
  for (let t = 16; t < 64; t++) {
    // W_t = sigma1(W_{t-2}) + W_{t-7} + sigma0(W_{t-15}) + W_{t-16} ((4.6), (4.7)), in place of W_{t-16}.
    lines.push(set(w(t), add(add(get(w(t)), sig(get(w(t + 1)), 7, 18, -3)), add(get(w(t + 9)), sig(get(w(t + 14)), 17, 19, -10)))))
    lines.push(`(v128.store offset=${16 * t} (i32.const ${SCHED}) (i32x4.add ${konst(K[t])} ${get(w(t))}))`)
  }
  return lines.map((l) => `        ${l}`).join('\n') + '\n'
}

/** Round t of 6.2.2 step 3. */
function round(t) {
  const [a, b, c, d, e, f, g, h] = V.map((_, i) => at(t, i))
  const lines = []
  // t1 = h + Sigma1(e) + Ch(e, f, g) + K_t + W_t, the terms off e's path added first. SIMD
  // has no rotate, so a rotation is 3 operations either way; Sigma1 (4.5) and Sigma0 (4.4) are
  // written as three independent rotations (short dependency chains: each round waits on e and
  // a). Ch (4.2) is a bit select: f where e is 1, g where 0.
  lines.push(set('t1', add(add(get(h), ld(t)), add(`(v128.bitselect ${get(f)} ${get(g)} ${get(e)})`, sig(get(e), 6, 11, 25)))))
  lines.push(set(d, add(get(d), get('t1'))))
  // Maj(a, b, c) (4.3): b where a and b agree, c where they differ.
  lines.push(set(h, add(get('t1'), add(sig(get(a), 2, 13, 22), `(v128.bitselect ${get(c)} ${get(b)} ${xor(get(a), get(b))})`))))
  return lines.map((l) => `        ${l}`).join('\n')
}

/**
 * Rounds 0-15 entered at round `from`: br_table leaves the blocks up to r_{from-1}, and leaving
 * block r_t runs round t, t+1, ... Round `from` reads its variable i from the local
 * at(from, i), which is why chains.ts stores the state rotated: slot j = S[(j + from) mod 8].
 */
function rounds0to15() {
  let text = '        ' + Array.from({ length: 16 }, (_, t) => `(block $r${15 - t}`).join(' ') + '\n'
  text += `        (br_table ${Array.from({ length: 16 }, (_, t) => `$r${t}`).join(' ')} $r0 ${get('from')})\n`
  for (let t = 0; t < 16; t++) text += `        )\n${round(t)}\n`
  return text
}

const wat = `;; GENERATED by scripts/sha256x4-gen.mjs; edit that script, not this file.
;; SHA-256 compression (FIPS 180-4, 6.2.2) of four blocks at once (i32x4 lanes); memory layout
;; in the script's header.
(module
  (memory (export "memory") 2)
  (func (export "run") (param $from i32) (param $groups i32)
    (local $p i32) (local $end i32)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    (local $e v128) (local $f v128) (local $g v128) (local $h v128)
    (local $t1 v128)
${Array.from({ length: 16 }, (_, i) => `    (local $w${i} v128)`).join('\n')}
    (local.set $p (i32.const ${GROUPS}))
    (local.set $end (i32.add (i32.const ${GROUPS}) (i32.mul (local.get $groups) (i32.const ${GROUP_BYTES}))))
    (block $done
      (loop $group
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
${Array.from({ length: 16 }, (_, i) => `        (local.set $w${i} (v128.load offset=${16 * i} (local.get $p)))`).join('\n')}
${schedule()}${V.map((v, i) => `        (local.set $${v} (v128.load32_splat (i32.const ${STATE + 4 * i})))`).join('\n')}
${rounds0to15()}${Array.from({ length: 48 }, (_, i) => round(i + 16)).join('\n')}
${['a', 'b', 'c'].map((v, i) => `        (v128.store offset=${16 * i} (local.get $p) (i32x4.add (v128.load32_splat (i32.const ${CHAIN + 4 * i})) ${get(v)}))`).join('\n')}
        (local.set $p (i32.add (local.get $p) (i32.const ${GROUP_BYTES})))
        (br $group)
      )
    )
  )
)
`

const wabt = await wabtInit()
const mod = wabt.parseWat('sha256x4.wat', wat, { simd: true })
mod.validate()
const bytes = mod.toBinary({}).buffer
mod.destroy()

const ts = `/**
 * GENERATED by scripts/sha256x4-gen.mjs from ./sha256x4.wat; edit the script, not this file.
 *
 * SHA-256 compression (FIPS 180-4, 6.2.2) of four blocks at once in WebAssembly SIMD, as
 * bytes, so the runtime compiles it synchronously and needs no assembler. The memory layout
 * is in the script's header; chains.ts (sepChainNamesOf) fills and reads it.
 */

/** Byte offsets in the module's memory. */
export const X4_STATE = ${STATE}
export const X4_CHAIN = ${CHAIN}
export const X4_GROUPS = ${GROUPS}
export const X4_GROUP_BYTES = ${GROUP_BYTES}
/** Groups of four lanes that fit below the scratch page. */
export const X4_MAX_GROUPS = ${Math.floor((SCHED - GROUPS) / GROUP_BYTES)}

/** The module (${bytes.length} bytes). */
export const SHA256X4_WASM = '${Buffer.from(bytes).toString('base64')}'
`

const dir = new URL('../src/planner/iptables/', import.meta.url)
writeFileSync(fileURLToPath(new URL('sha256x4.wat', dir)), wat)
writeFileSync(fileURLToPath(new URL('sha256x4.ts', dir)), ts)
console.log(`wrote sha256x4.wat and sha256x4.ts (${bytes.length} bytes of wasm)`)
