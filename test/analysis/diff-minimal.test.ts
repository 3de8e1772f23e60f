/**
 * Structured diff and minimal restore on hand-made pairs derived from upstream's
 * TestSyncProxyRulesRepeated (reference §14): add a service, delete one, change an endpoint,
 * no change. The minimal restore is applied with a small model of `iptables-restore --noflush`
 * here; test/kernel-analysis applies it to the real kernel.
 */
import { describe, expect, it } from 'vitest'
import { applyPatch } from 'diff'
import { deltaSize, diffPlans, minimalRestore, restoreText, unifiedDiff } from '../../src/planner/analysis/index.js'
import { normaliseRestore } from '../../src/planner/index.js'
import { applyRestore, conformanceText, familyPlanFromRestore, stateObject } from './fixtures.js'

const A_TEXT = conformanceText('TestSyncProxyRulesRepeated__initial_full_sync')
const A = familyPlanFromRestore(A_TEXT)

const SVC3 = [
  ':KUBE-SVC-X27LE4BHSL4DOUIK - [0:0]',
  ':KUBE-SEP-BSWRHOQ77KEXZLNL - [0:0]',
  '-A KUBE-SERVICES -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 -j KUBE-SVC-X27LE4BHSL4DOUIK',
  '-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ',
  '-A KUBE-SVC-X27LE4BHSL4DOUIK -m comment --comment "ns3/svc3:p80 -> 10.0.3.1:80" -j KUBE-SEP-BSWRHOQ77KEXZLNL',
  '-A KUBE-SEP-BSWRHOQ77KEXZLNL -m comment --comment ns3/svc3:p80 -s 10.0.3.1 -j KUBE-MARK-MASQ',
  '-A KUBE-SEP-BSWRHOQ77KEXZLNL -m comment --comment ns3/svc3:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.3.1:80',
]

/** A with svc2 removed and svc3 added (chain lines and rules placed in the nat table). */
function withSvc3WithoutSvc2(): string {
  const lines = A_TEXT.split('\n').filter((l) => !l.includes('svc2') && !l.includes('2VJB64SDSIJUP5T6') && !l.includes('UHEGFW77JX3KXTOV'))
  const nat = lines.indexOf('*nat')
  lines.splice(nat + 3, 0, ...SVC3.filter((l) => l.startsWith(':')))
  const commit = lines.lastIndexOf('COMMIT')
  lines.splice(commit, 0, ...SVC3.filter((l) => l.startsWith('-A')))
  return lines.join('\n')
}

/** svc1's endpoint moves from 10.0.1.1 to 10.0.1.2 (new SEP chain, old one stale). */
function withSvc1EndpointChanged(): string {
  return A_TEXT.replaceAll('10.0.1.1', '10.0.1.2').replaceAll('KUBE-SEP-SNQ3ZNILQDEJNDQO', 'KUBE-SEP-NEWNEWNEWNEWNEW1')
}

const full = (text: string) => stateObject(applyRestore(new Map(), text, false))

function expectDeltaReaches(aText: string, bText: string): string {
  const a = familyPlanFromRestore(aText)
  const b = familyPlanFromRestore(bText)
  const delta = minimalRestore(a, b)
  const applied = applyRestore(applyRestore(new Map(), restoreText(a), false), delta, true)
  expect(stateObject(applied)).toEqual(full(restoreText(b)))
  return delta
}

describe('diffPlans', () => {
  it('finds nothing between equal plans', () => {
    const d = diffPlans(A, familyPlanFromRestore(A_TEXT))
    expect(d.services).toEqual([])
    expect(d.summary).toMatchObject({ rulesAdded: 0, rulesRemoved: 0, servicesChanged: 0, unchangedSegments: 4 })
  })

  it('groups an added and a removed service, with chain and rule changes per table', () => {
    const d = diffPlans(A, familyPlanFromRestore(withSvc3WithoutSvc2()))
    expect(d.summary).toMatchObject({
      servicesAdded: 1,
      servicesRemoved: 1,
      servicesChanged: 0,
      servicePortsAdded: 1,
      servicePortsRemoved: 1,
      chainsAdded: 2,
      chainsRemoved: 2,
      chainsChanged: 1,
      rulesAdded: 5,
      rulesRemoved: 5,
    })
    expect(d.tables.nat.chainsAdded).toEqual(['KUBE-SEP-BSWRHOQ77KEXZLNL', 'KUBE-SVC-X27LE4BHSL4DOUIK'])
    expect(d.tables.nat.chainsRemoved).toEqual(['KUBE-SEP-UHEGFW77JX3KXTOV', 'KUBE-SVC-2VJB64SDSIJUP5T6'])
    expect(d.tables.nat.chainsChanged).toEqual([
      {
        chain: 'KUBE-SERVICES',
        rulesAdded: [SVC3[2]],
        rulesRemoved: [
          '-A KUBE-SERVICES -m comment --comment "ns2/svc2:p8080 cluster IP" -m tcp -p tcp -d 172.30.0.42 --dport 8080 -j KUBE-SVC-2VJB64SDSIJUP5T6',
        ],
      },
    ])
    expect(d.services.map((s) => [s.service, s.change, s.rulesAdded, s.rulesRemoved])).toEqual([
      ['ns3/svc3:p80', 'added', 5, 0],
      ['ns2/svc2:p8080', 'removed', 0, 5],
    ])
  })

  it('shows an endpoint change as a changed service: SVC rules, SEP added and removed', () => {
    const d = diffPlans(A, familyPlanFromRestore(withSvc1EndpointChanged()))
    expect(d.summary).toMatchObject({ servicesChanged: 1, servicesAdded: 0, servicesRemoved: 0 })
    const s = d.services[0]!
    expect(s).toMatchObject({ service: 'ns1/svc1:p80', protocol: 'tcp', change: 'changed' })
    expect(s.tables.nat.chainsAdded).toEqual(['KUBE-SEP-NEWNEWNEWNEWNEW1'])
    expect(s.tables.nat.chainsRemoved).toEqual(['KUBE-SEP-SNQ3ZNILQDEJNDQO'])
    expect(s.tables.nat.chainsChanged.map((c) => [c.chain, c.rulesAdded.length, c.rulesRemoved.length])).toEqual([['KUBE-SVC-XPGD46QRK7WJZT7O', 1, 1]])
  })

  it('trusts precomputed hashes: equal hashes are not examined', () => {
    const b = familyPlanFromRestore(withSvc1EndpointChanged())
    const same = A.segments.map(() => 'h')
    expect(diffPlans(A, b, { hashesA: same, hashesB: same }).services).toEqual([])
  })
})

describe('minimalRestore', () => {
  it('adding and deleting services: only the changed chains, stale ones flushed and deleted', () => {
    const delta = expectDeltaReaches(A_TEXT, withSvc3WithoutSvc2())
    const lines = delta.split('\n')
    // unchanged svc1 keeps its chains untouched…
    expect(lines.filter((l) => l.includes('KUBE-SVC-XPGD46QRK7WJZT7O'))).toEqual([
      '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O',
    ])
    // …svc2's chains are declared (flushed) and deleted, after the service rules, before the final jump
    expect(lines).toContain(':KUBE-SVC-2VJB64SDSIJUP5T6 - [0:0]')
    const x = lines.indexOf('-X KUBE-SVC-2VJB64SDSIJUP5T6')
    expect(x).toBeGreaterThan(lines.indexOf(SVC3[6]!))
    expect(x).toBeLessThan(lines.findIndex((l) => l.includes('must be the last rule')))
    expect(lines).toContain('-X KUBE-SEP-UHEGFW77JX3KXTOV')
    // the fixed nat chains and the whole filter table are always written
    for (const c of ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ']) expect(lines).toContain(`:${c} - [0:0]`)
    expect(delta.slice(0, delta.indexOf('*nat'))).toBe(restoreText(familyPlanFromRestore(withSvc3WithoutSvc2())).slice(0, delta.indexOf('*nat')))
  })

  it('an endpoint change rewrites the SVC chain, adds the new SEP and deletes the old one', () => {
    const delta = expectDeltaReaches(A_TEXT, withSvc1EndpointChanged())
    expect(delta).toContain(':KUBE-SEP-NEWNEWNEWNEWNEW1 - [0:0]')
    expect(delta).toContain('-X KUBE-SEP-SNQ3ZNILQDEJNDQO')
    expect(delta).not.toContain(':KUBE-SVC-2VJB64SDSIJUP5T6')
  })

  it('no change writes only the fixed parts (upstream: "a sync with no changes")', () => {
    const delta = expectDeltaReaches(A_TEXT, A_TEXT)
    expect(delta).not.toMatch(/KUBE-(SVC|SEP)-\S+ - \[0:0\]/)
    expect(delta).not.toContain('-X ')
  })

  it('from an empty plan it is the full plan; to an empty plan it deletes every service chain', () => {
    const empty = A_TEXT.split('\n')
      .filter((l) => !/svc[12]|KUBE-(SVC|SEP)-/.test(l))
      .join('\n')
    expectDeltaReaches(empty, A_TEXT)
    const down = expectDeltaReaches(A_TEXT, empty)
    expect(
      down
        .split('\n')
        .filter((l) => l.startsWith('-X '))
        .sort(),
    ).toEqual(['-X KUBE-SEP-SNQ3ZNILQDEJNDQO', '-X KUBE-SEP-UHEGFW77JX3KXTOV', '-X KUBE-SVC-2VJB64SDSIJUP5T6', '-X KUBE-SVC-XPGD46QRK7WJZT7O'])
  })

  it('deltaSize counts the delta against the full script (kube-proxy _last vs _total)', () => {
    const b = familyPlanFromRestore(withSvc3WithoutSvc2())
    const s = deltaSize(A, b)
    const delta = minimalRestore(A, b)
    expect(s.rules).toBe(delta.split('\n').filter((l) => l.startsWith('-A ')).length)
    expect(s.bytes).toBe(Buffer.byteLength(delta))
    expect(s.deletedChains).toBe(2)
    expect(s.totalRules).toBe(
      restoreText(b)
        .split('\n')
        .filter((l) => l.startsWith('-A ')).length,
    )
    expect(s.totalBytes).toBe(Buffer.byteLength(restoreText(b)))
    expect(s.rules).toBeLessThan(s.totalRules)
  })
})

describe('unifiedDiff', () => {
  it('is a patch from the normalised script of a to that of b', () => {
    const b = familyPlanFromRestore(withSvc3WithoutSvc2())
    const patch = unifiedDiff(A, b, { fromLabel: 'v1', toLabel: 'v2' })
    expect(patch).toContain('--- v1')
    expect(patch).toContain('+++ v2')
    expect(patch).toContain('+:KUBE-SVC-X27LE4BHSL4DOUIK - [0:0]')
    expect(patch).toContain('--A KUBE-SEP-UHEGFW77JX3KXTOV -m comment --comment ns2/svc2:p8080 -s 10.0.2.1 -j KUBE-MARK-MASQ')
    expect(applyPatch(normaliseRestore(restoreText(A)), patch)).toBe(normaliseRestore(restoreText(b)))
  })
  it('keeps line numbers right when a long common head is cut off, and is empty for equal plans', () => {
    const b = familyPlanFromRestore(withSvc1EndpointChanged())
    const patch = unifiedDiff(A, b, { context: 1 })
    expect(applyPatch(normaliseRestore(restoreText(A)), patch)).toBe(normaliseRestore(restoreText(b)))
    expect(unifiedDiff(A, A)).not.toContain('@@')
  })
})
