/**
 * Chain names, as pkg/proxy/iptables/proxier.go derives them: the first 16 characters of the
 * RFC 4648 base32 encoding of sha256(servicePortName + protocol [+ endpoint]).
 */
import { createHash } from 'node:crypto'
import { base32 } from '@scure/base'

export function portProtoHash(servicePortName: string, protocol: string): string {
  return hash16(servicePortName + protocol)
}

/** Endpoint chain suffix; `endpoint` is the `ip:port` identity (`[ip]:port` for IPv6). */
export function endpointHash(servicePortName: string, protocol: string, endpoint: string): string {
  return hash16(servicePortName + protocol + endpoint)
}

function hash16(s: string): string {
  return base32.encode(createHash('sha256').update(s).digest()).slice(0, 16)
}

export const SERVICE_CHAIN_PREFIXES = ['KUBE-SVC-', 'KUBE-SVL-', 'KUBE-SEP-', 'KUBE-FW-', 'KUBE-EXT-'] as const
