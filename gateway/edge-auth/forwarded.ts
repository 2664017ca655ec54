// Who really called, behind a reverse proxy (the Kubernetes Ingress): every
// socket peer is then a proxy pod, so the caller is read from X-Forwarded-For,
// but only when the peer is a proxy we trust (anyone else could write the
// header), and only the right-most address that is not itself a trusted proxy:
// everything left of it was written by the caller. Pure.
import type { BlockList } from 'node:net';
import { isIP } from 'node:net';
import { isAllowed, normalizeRemote } from './allow-list.js';

/** Addresses in one X-Forwarded-For list (or several headers), left to right; a ":port" or "[v6]:port" is dropped. */
function forwardedFor(header: string | readonly string[] | undefined): string[] {
  const joined = typeof header === 'string' ? header : (header ?? []).join(',');
  return joined.split(',').map((entry) => {
    const trimmed = entry.trim();
    const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(trimmed);
    if (bracketed) return bracketed[1] ?? '';
    const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(trimmed);
    return v4WithPort ? (v4WithPort[1] ?? '') : trimmed;
  }).filter((entry) => entry !== '');
}

/**
 * The caller's address: the socket peer, unless that is a trusted proxy; then the right-most
 * X-Forwarded-For entry that is not a trusted proxy (the left-most when all are). An entry that is
 * no IP address ends the walk at the last proxy seen: a trusted proxy does not write one.
 */
export function clientAddress(
  peer: string | undefined, xForwardedFor: string | readonly string[] | undefined, trustedProxies: BlockList | null,
): string {
  let source = normalizeRemote(peer);
  if (!trustedProxies || !source || !isAllowed(trustedProxies, source)) return source;
  const hops = forwardedFor(xForwardedFor);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalizeRemote(hops[i]);
    if (isIP(hop) === 0) return source;
    source = hop;
    if (!isAllowed(trustedProxies, hop)) return source;
  }
  return source;
}
