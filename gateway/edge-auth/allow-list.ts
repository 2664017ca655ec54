// Source-address allow lists for the gateway's edges (SMPP binds, USSD over
// HTTP): IPs and CIDR blocks, matched by node's BlockList. Pure.
import { BlockList, isIPv4 } from 'node:net';

/** A BlockList holding `entries` ("10.0.0.0/8", "127.0.0.1", "::1/128"); config validation has checked their shape. */
export function allowList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, prefix] = entry.split('/') as [string, string | undefined];
    const type = isIPv4(address) ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return list;
}

/** A peer's address as the allow list sees it: IPv4-mapped IPv6 becomes plain IPv4. */
export function normalizeRemote(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/** Whether `remote` (as the socket reports it) is on the list. */
export function isAllowed(list: BlockList, remote: string | undefined): boolean {
  const address = normalizeRemote(remote);
  if (!address) return false;
  return list.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
}
