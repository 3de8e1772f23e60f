/**
 * The save-form model, checked against read-backs recorded on both backends
 * (docs/kernel.md, "Facts of the tools"). Needs no kernel; the kernel tests then
 * compare the model with live iptables-save output.
 */
import { describe, expect, it } from 'vitest'
import { compareReadBack, predictSaveRule, saveProbability, saveString, tableBlocks, tokenize, expectedByFamily } from './saveform.js'

describe('predictSaveRule', () => {
  it.each([
    [
      '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O',
      '-A KUBE-SERVICES -d 172.30.0.41/32 -p tcp -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O',
    ],
    [
      '-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ',
      '-A KUBE-SEP-SXIVWICOYRO3J4NJ -s 10.180.0.1/32 -m comment --comment "ns1/svc1:p80" -j KUBE-MARK-MASQ',
    ],
    ['-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000', '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000'],
    ['-A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000', '-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0'],
    [
      '-A KUBE-SVC-X -m comment --comment "a -> b" -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-Y',
      '-A KUBE-SVC-X -m comment --comment "a -> b" -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-Y',
    ],
    [
      '-A KUBE-SVC-X -m comment --comment "ns1/svc1:p80 -> 10.180.1.2:80" -m recent --name KUBE-SEP-1 --rcheck --seconds 10800 --reap -j KUBE-SEP-1',
      '-A KUBE-SVC-X -m comment --comment "ns1/svc1:p80 -> 10.180.1.2:80" -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-1 --mask 255.255.255.255 --rsource -j KUBE-SEP-1',
    ],
    [
      '-A KUBE-SEP-1 -m comment --comment ns1/svc1:p80 -m recent --set --name KUBE-SEP-1 -m tcp -p tcp -j DNAT --to-destination 10.180.1.2:80',
      '-A KUBE-SEP-1 -p tcp -m comment --comment "ns1/svc1:p80" -m recent --set --name KUBE-SEP-1 --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.180.1.2:80',
    ],
    [
      '-A KUBE-SERVICES -m comment --comment "x" -m tcp -p tcp -d 172.30.0.42 --dport 80 -j REJECT',
      '-A KUBE-SERVICES -d 172.30.0.42/32 -p tcp -m comment --comment x -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable',
    ],
    ['-A KUBE-FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT', '-A KUBE-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT'],
    ['-A X -p tcp --dport 80 -j ACCEPT', '-A X -p tcp -m tcp --dport 80 -j ACCEPT'],
    ['-A X -s 10.1.2.3/8 -j ACCEPT', '-A X -s 10.0.0.0/8 -j ACCEPT'],
    ['-A X -m nfacct --nfacct-name ab_c -j DROP', '-A X -m nfacct --nfacct-name  ab_c -j DROP'],
  ])('%s', (input, saved) => {
    expect(predictSaveRule(input)).toBe(saved)
  })

  it('uses /128 and the IPv6 recent mask for family 6', () => {
    expect(predictSaveRule('-A X -d 2001:db8::0001 -m recent --set --name A -j ACCEPT', 6)).toBe(
      '-A X -d 2001:db8::1/128 -m recent --set --name A --mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff --rsource -j ACCEPT',
    )
  })

  it('returns null for what it does not model', () => {
    expect(predictSaveRule('-A X -m hashlimit --hashlimit-upto 5/sec -j ACCEPT')).toBeNull()
    expect(predictSaveRule('-A X -j LOG --log-prefix foo')).toBeNull()
  })
})

describe('helpers', () => {
  it('quotes like xtables_save_string', () => {
    expect(saveString('abc-def_1')).toBe('abc-def_1')
    expect(saveString('abc-def_1.2')).toBe('"abc-def_1.2"')
    expect(saveString('say "hi"')).toBe('"say \\"hi\\""')
  })
  it('rounds probabilities to the kernel scale', () => {
    expect(['0.5000000000', '0.1000000000', '0.6666666667', '0.0001000000', '0.9999999999'].map(saveProbability)).toEqual([
      '0.50000000000',
      '0.10000000009',
      '0.66666666651',
      '0.00009999983',
      '1.00000000000',
    ])
  })
  it('tokenizes quoted words with escapes', () => {
    expect(tokenize('-A X -m comment --comment "a \\"b\\" c" -j Y')).toEqual(['-A', 'X', '-m', 'comment', '--comment', 'a "b" c', '-j', 'Y'])
  })
})

describe('compareReadBack', () => {
  const input = '*nat\n:KUBE-A - [0:0]\n:KUBE-B - [0:0]\n-A KUBE-A -m comment --comment ns/s:p -s 10.0.0.1 -j KUBE-B\nCOMMIT\n'
  const saved =
    '*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:KUBE-A - [0:0]\n:KUBE-B - [0:0]\n' +
    '-A KUBE-A -s 10.0.0.1/32 -m comment --comment "ns/s:p" -j KUBE-B\nCOMMIT\n'

  it('accepts a faithful read-back', () => {
    const r = compareReadBack(input, saved)
    expect(r.problems).toEqual([])
    expect({ chains: r.chains, rules: r.rules, predicted: r.predicted }).toEqual({ chains: 6, rules: 1, predicted: 1 })
  })
  it('reports a changed rule, a missing chain and a missing rule', () => {
    expect(compareReadBack(input, saved.replace('10.0.0.1/32', '10.0.0.2/32')).problems).toHaveLength(1)
    expect(compareReadBack(input, saved.replace(':KUBE-B - [0:0]\n', '')).problems).toEqual(['nat/KUBE-B: chain missing from save'])
    expect(compareReadBack(input, saved.replace(/-A KUBE-A.*\n/, '')).problems).toEqual(['nat/KUBE-A: 1 rules written, 0 read back'])
  })
})

describe('tableBlocks', () => {
  it('splits a dump per table whatever the table order', () => {
    const a = '*nat\n:A - [0:0]\nCOMMIT\n*filter\n:B - [0:0]\n-A B -j DROP\nCOMMIT\n'
    const b = '*filter\n:B - [0:0]\n-A B -j DROP\nCOMMIT\n*nat\n:A - [0:0]\nCOMMIT\n'
    expect(tableBlocks(a)).toEqual(tableBlocks(b))
    expect(tableBlocks(a)).toEqual({ nat: '*nat\n:A - [0:0]\nCOMMIT', filter: '*filter\n:B - [0:0]\n-A B -j DROP\nCOMMIT' })
  })
})

describe('expectedByFamily', () => {
  it('splits dual-stack files at the # IPv6 line and recognises IPv6-only files', () => {
    const v4 = '*nat\n:A - [0:0]\n-A A -d 10.0.0.1 -j RETURN\nCOMMIT\n'
    const v6 = '*nat\n:A - [0:0]\n-A A -m tcp -p tcp -j DNAT --to-destination [fd00::1]:80\nCOMMIT\n'
    expect(expectedByFamily(`${v4}# IPv6\n${v6}`)).toEqual([
      { family: 4, text: v4 },
      { family: 6, text: v6 },
    ])
    expect(expectedByFamily(v6)).toEqual([{ family: 6, text: v6 }])
    expect(expectedByFamily(v4)).toEqual([{ family: 4, text: v4 }])
    expect(expectedByFamily('*nat\n-A A -d fd00:10:96::41 -j RETURN\nCOMMIT\n')[0]!.family).toBe(6)
  })
})
