/**
 * The fixed parts of kube-proxy's restore input (pkg/proxy/iptables/proxier.go syncProxyRules):
 * the head (chain declarations, KUBE-POSTROUTING, KUBE-MARK-MASQ, KUBE-FIREWALL) and the tail
 * (KUBE-FORWARD, the KUBE-SERVICES -> KUBE-NODEPORTS jump that must stay last).
 */
import { linesText, type Segment } from '../types.js'
import type { FamilyContext } from '../context.js'
import { safeWord } from '../iptables/words.js'

export const chainLine = (name: string): string => `:${name} - [0:0]`

/** filter chains in kube-proxy's order; KUBE-FIREWALL only for IPv4 with localhost NodePorts. */
export function filterChainNames(ctx: FamilyContext): string[] {
  const names = ['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-FORWARD', 'KUBE-NODEPORTS', 'KUBE-PROXY-FIREWALL']
  if (ctx.localhostNodePorts) names.push('KUBE-FIREWALL')
  return names
}

export const NAT_FIXED_CHAINS = ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ']

export function headSegment(ctx: FamilyContext): Segment {
  const m = safeWord(ctx.mark, 'masquerade mark', '/proxy/masqueradeMark')
  const filterRules: string[] = []
  if (ctx.localhostNodePorts) {
    // Blocks martian 127/8 packets that route_localnet (needed for localhost NodePorts) would let in.
    filterRules.push(
      '-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
    )
  }
  return {
    key: 'head',
    filterChains: linesText(filterChainNames(ctx).map(chainLine)),
    filterRules: linesText(filterRules),
    natChains: linesText(NAT_FIXED_CHAINS.map(chainLine)),
    natRules: linesText([
      `-A KUBE-POSTROUTING -m mark ! --mark ${m}/${m} -j RETURN`,
      // Clear the mark so a packet re-entering the stack (e.g. VXLAN) is not masqueraded twice.
      `-A KUBE-POSTROUTING -j MARK --xor-mark ${m}`,
      `-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE${ctx.randomFully ? ' --random-fully' : ''}`,
      `-A KUBE-MARK-MASQ -j MARK --or-mark ${m}`,
    ]),
  }
}

const NODEPORTS_COMMENT = '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain"'

/**
 * The tail: KUBE-FORWARD, and in nat the stale service chains' deletion (`stale`, in byte order:
 * a chain line that flushes each and a `-X` that deletes it, after every service's rules, as
 * syncProxyRules' "Delete chains no longer in use" writes them) before the KUBE-SERVICES ->
 * KUBE-NODEPORTS jump, which stays last.
 */
export function tailSegment(ctx: FamilyContext, stale: readonly string[] = []): Segment {
  const m = safeWord(ctx.mark, 'masquerade mark', '/proxy/masqueradeMark')
  const filterRules: string[] = []
  if (!ctx.tcpBeLiberal) {
    filterRules.push(
      `-A KUBE-FORWARD -m conntrack --ctstate INVALID${ctx.nfacctInvalid ? ' -m nfacct --nfacct-name ct_state_invalid_dropped_pkts' : ''} -j DROP`,
    )
  }
  filterRules.push(
    `-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark ${m}/${m} -j ACCEPT`,
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
  )
  const natRules: string[] = stale.map((c) => `-X ${c}`)
  if (ctx.nodePortMatchAll) {
    let notLoopback = ''
    if (ctx.family === 'IPv6') notLoopback = ' ! -d ::1/128'
    else if (!ctx.localhostNodePorts) notLoopback = ' ! -d 127.0.0.0/8'
    natRules.push(`-A KUBE-SERVICES ${NODEPORTS_COMMENT} -m addrtype --dst-type LOCAL${notLoopback} -j KUBE-NODEPORTS`)
  } else {
    for (const ip of ctx.nodePortIPs) natRules.push(`-A KUBE-SERVICES ${NODEPORTS_COMMENT} -d ${safeWord(ip, 'node IP', '/proxy/nodeIPs')} -j KUBE-NODEPORTS`)
  }
  return { key: 'tail', filterChains: '', filterRules: linesText(filterRules), natChains: linesText(stale.map(chainLine)), natRules: linesText(natRules) }
}
