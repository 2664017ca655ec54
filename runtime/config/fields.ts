// Field types the config's sections share, the runtime's and the components' (<component>/config.ts):
// ids, ports, durations, money, addresses. Each bound has a unit in its name.
import { isIP } from 'node:net';
import { z } from 'zod';

export const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'must be 1-64 letters, digits, "_" or "-"');
export const port = z.number().int().min(1).max(65535);
export const positiveMs = z.number().int().min(1).max(86_400_000);
/** Minor units, from a YAML integer or a digit string (for values past 2^53). */
export const amountMinor = z
  .union([z.number().int().nonnegative(), z.string().regex(/^\d{1,18}$/, 'must be a whole number of minor units')])
  .transform((v) => BigInt(v));
/** An IP address or CIDR block ("10.0.0.0/8", "192.0.2.7", "::1/128") for an edge's allow list. */
export const addressOrBlock = z.string().refine((entry) => {
  const [address, prefix, extra] = entry.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || extra !== undefined) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}, 'must be an IP address or a CIDR block such as 10.0.0.0/8');

/** Whether a listen host is loopback only (so nothing off this machine reaches it). Pure. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare === '::1') return true;
  const v4 = bare.startsWith('::ffff:') ? bare.slice(7) : bare;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/**
 * Reverse proxies (the Kubernetes Ingress's pods) in front of an HTTP edge: IPs or CIDR blocks. Only from
 * these is X-Forwarded-For believed, its right-most address that is not one of them taken as the caller's.
 */
export const trustedProxies = z.array(addressOrBlock).max(256).default([]);
/** An edge secret: it may travel in a URL path, so URL-safe, and long enough not to be guessed. */
export const edgeSecret = z.string().regex(/^[A-Za-z0-9._~-]{16,256}$/, 'must be 16-256 letters, digits, ".", "_", "~" or "-" (it may travel in a URL path)');
