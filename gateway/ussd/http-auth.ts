// Who may post to the USSD HTTP edge: an aggregator from an allowed address
// that presents the shared secret. Aggregators differ in how they can send
// one, so each way is read: the x-dialpay-ussd-secret header, Authorization
// Bearer, HTTP Basic (the password; any user name), or a token in the
// callback path (<path>/<token>, <path>/<token>/events). One edge-wide secret
// (plus the previous one during a rotation): the operator is only known once
// the body is read, and a refused caller's body is never read. No I/O here.
import type { IncomingHttpHeaders } from 'node:http';
import type { BlockList } from 'node:net';
import { allowList, AuthFailureLimiter, isAllowed, normalizeRemote, secretMatches } from '../edge-auth/index.js';
import type { Config } from '../../runtime/config/index.js';

export const SECRET_HEADER = 'x-dialpay-ussd-secret';
/** A path token has the shape config allows a secret to have; anything else is no token. */
const TOKEN = /^[A-Za-z0-9._~-]{1,256}$/;

export interface UssdRoute {
  /** hop: a subscriber's answer (<path>); events: the end-of-session notification (<path>/events). */
  readonly kind: 'hop' | 'events';
  /** The secret as a path segment, when the aggregator was given a callback URL with one. */
  readonly token: string | null;
}

/** Which edge a request path is for, and the token in it; null for any other path. Pure. */
export function routeOf(pathname: string, basePath: string): UssdRoute | null {
  if (pathname === basePath) return { kind: 'hop', token: null };
  if (pathname === `${basePath}/events`) return { kind: 'events', token: null };
  if (!pathname.startsWith(`${basePath}/`)) return null;
  const rest = pathname.slice(basePath.length + 1).split('/');
  const token = rest[0] ?? '';
  if (!TOKEN.test(token)) return null;
  if (rest.length === 1) return { kind: 'hop', token };
  if (rest.length === 2 && rest[1] === 'events') return { kind: 'events', token };
  return null;
}

/** The secret a request presents, by the first way it uses: header, Bearer, Basic password, path token. Pure. */
export function presentedSecret(headers: IncomingHttpHeaders, pathToken: string | null): string | null {
  const header = headers[SECRET_HEADER];
  if (typeof header === 'string' && header !== '') return header;
  const authorization = headers.authorization ?? '';
  const [scheme, credentials] = authorization.trim().split(/\s+/, 2) as [string, string | undefined];
  if (credentials && scheme.toLowerCase() === 'bearer') return credentials;
  if (credentials && scheme.toLowerCase() === 'basic') {
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon >= 0) return decoded.slice(colon + 1);
  }
  return pathToken;
}

export const AuthFailureReasons = {
  address: 'address',
  missingSecret: 'missing_secret',
  wrongSecret: 'wrong_secret',
  rateLimited: 'rate_limited',
} as const;
export type AuthFailureReason = (typeof AuthFailureReasons)[keyof typeof AuthFailureReasons];

export type AuthVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly status: 401 | 403 | 429; readonly reason: AuthFailureReason; readonly source: string; readonly retryAfterMs: number; readonly failures: number };

/** The edge's gatekeeper: allow list, secrets and the per-source failure limit, from config.ussd.http. */
export class UssdHttpAuth {
  readonly #allowed: BlockList;
  readonly #secrets: readonly string[];
  readonly #limiter: AuthFailureLimiter;

  constructor(http: Config['ussd']['http']) {
    this.#allowed = allowList(http.allowedAddresses);
    this.#secrets = [http.sharedSecret, http.sharedSecretPrevious].filter((s): s is string => Boolean(s));
    this.#limiter = new AuthFailureLimiter({ failuresMax: http.authFailuresMax, windowMs: http.authFailuresWindowMs, sourcesMax: http.authFailureSourcesMax });
  }

  /** Whether callers must present a secret (none configured: a loopback-only edge, the allow list alone). */
  get requiresSecret(): boolean {
    return this.#secrets.length > 0;
  }

  /**
   * Decides on one request before its body is read. A source over its failure limit is refused
   * unchecked (429); a source off the allow list gets 403; a missing or wrong secret 401. Every
   * refusal but the 429 counts toward the source's limit.
   */
  check(remoteAddress: string | undefined, headers: IncomingHttpHeaders, pathToken: string | null, nowMs: number): AuthVerdict {
    const source = normalizeRemote(remoteAddress) || 'unknown';
    const blockedMs = this.#limiter.blockedForMs(source, nowMs);
    if (blockedMs > 0) return { ok: false, status: 429, reason: AuthFailureReasons.rateLimited, source, retryAfterMs: blockedMs, failures: 0 };
    const refuse = (status: 401 | 403, reason: AuthFailureReason): AuthVerdict =>
      ({ ok: false, status, reason, source, retryAfterMs: 0, failures: this.#limiter.recordFailure(source, nowMs) });
    if (!isAllowed(this.#allowed, remoteAddress)) return refuse(403, AuthFailureReasons.address);
    if (!this.requiresSecret) return { ok: true };
    const presented = presentedSecret(headers, pathToken);
    if (presented === null || presented === '') return refuse(401, AuthFailureReasons.missingSecret);
    if (!secretMatches(presented, this.#secrets)) return refuse(401, AuthFailureReasons.wrongSecret);
    return { ok: true };
  }
}
