/**
 * The API server's checks (src/planner/kube/validation.ts), with the examples apimachinery's own
 * tests use for each (k8s.io/apimachinery/pkg/util/validation/validation_test.go) and the
 * characters an injection needs.
 */
import { describe, expect, it } from 'vitest'
import {
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isFQDN,
  isNonSpecialIP,
  isQualifiedName,
  isValidCIDR,
  isValidIP,
  isValidLabelValue,
  isValidPortName,
  type Check,
} from '../../src/planner/kube/validation.js'

const HOSTILE = ['a"b', 'a b', 'a\nb', 'a\u0000b', 'a\\b', "a'b", 'aü', 'a\tb']

function table(check: Check, valid: string[], invalid: string[], hostile = HOSTILE): void {
  for (const v of valid) expect(check(v), JSON.stringify(v)).toEqual([])
  for (const v of [...invalid, ...hostile]) expect(check(v).length, JSON.stringify(v)).toBeGreaterThan(0)
}

describe('API server validation', () => {
  it('IsDNS1123Label', () => table(isDNS1123Label, ['a', 'ab', 'a-b', '0', 'a1', '1a', 'a'.repeat(63)], ['', 'A', 'a.b', '-a', 'a-', 'a_b', 'a'.repeat(64)]))
  it('IsDNS1123Subdomain', () =>
    table(isDNS1123Subdomain, ['a', 'a.b', 'a-b.c-d', '0.1', 'a'.repeat(253)], ['', 'A', '.a', 'a.', 'a..b', 'a_b', 'a'.repeat(254)]))
  it('IsDNS1035Label', () => table(isDNS1035Label, ['a', 'ab', 'a-b', 'a1'], ['', '0', '1a', 'a.b', 'a-', 'A', 'a'.repeat(64)]))
  it('IsQualifiedName', () =>
    table(
      isQualifiedName,
      ['simple', 'now-with-dashes', 'A.B', 'kubernetes.io/service-name', 'topology.kubernetes.io/zone', '1-num.2-num/3-num'],
      ['', '/', 'a/', '/b', 'a/b/c', '-a', 'a-', 'Example.com/x', `${'a'.repeat(64)}`],
    ))
  it('IsValidLabelValue', () => table(isValidLabelValue, ['', 'simple', 'now-with-dashes', '1.2.3', 'A_b'], ['-a', 'a-', 'a/b', 'a'.repeat(64)]))
  it('IsValidPortName (IANA_SVC_NAME)', () =>
    table(isValidPortName, ['http', 'h-t-t-p', 'p80', 'a'.repeat(15)], ['', '80', 'a--b', '-a', 'a-', 'HTTP', 'a'.repeat(16)]))
  it('addresses and CIDRs, legacy leading zeros allowed', () => {
    table(isValidIP, ['1.2.3.4', '172.30.0.041', '::1', '2001:db8::1', '::ffff:1.2.3.4'], ['', '1.2.3', '256.1.1.1', 'fe80::1%eth0', '1.2.3.4/32'])
    table(isValidCIDR, ['10.0.0.0/8', '203.0.113.000/025', 'fd00::/48', '10.0.0.5/24'], ['', '10.0.0.0', '10.0.0.0/33', '10.0.0.0/-1', 'fd00::/129'])
    // Only meaningful for addresses (it follows isValidIP in every use).
    table(
      isNonSpecialIP,
      ['10.1.2.3', '192.168.0.1', '2001:db8::1'],
      ['0.0.0.0', '127.0.0.1', '169.254.1.1', '224.0.0.1', '::', '::1', 'fe80::1', 'ff02::1'],
      [],
    )
    table(isFQDN, ['example.com', 'a.b.c', 'example.com.'], ['example', '', 'ex_ample.com'])
  })
})
