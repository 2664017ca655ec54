// Who may post to the USSD HTTP edge: an aggregator from an allowed address
// that presents its secret. Aggregators differ in how they can send one, so
// each way is read: the x-dialpay-ussd-secret header, Authorization Bearer,
// HTTP Basic (the password; any user name), or a token in the callback path
// (<path>/<token>, <path>/<token>/events). The secret says which aggregator
// calls: a named one (ussd.http.aggregators) may act only for its operators,
// checked once the body names the operator (operatorAllowed); the edge-wide
// secret is an aggregator allowed for every operator. A refused caller's body
// is never read. Behind trusted proxies the caller is the forwarded address.
// No I/O here.
import type { IncomingHttpHeaders } from 'node:http';
import type { BlockList } from 'node:net';
import { allowList, AuthFailureLimiter, clientAddress, isAllowed, presentedDigest, SharedSecrets } from '../edge-auth/index.js';
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
  /** A known aggregator, for an operator it does not serve (found once the body is read). */
  operator: 'operator',
} as const;
export type AuthFailureReason = (typeof AuthFailureReasons)[keyof typeof AuthFailureReasons];

/**
 * Who a request authenticated as: an aggregator id (null: the edge-wide secret, or none on a loopback edge) and the operators it
 * may act for (null: all).
 */
export interface UssdCaller {
  readonly source: string;
  readonly aggregatorId: string | null;
  readonly operatorIds: ReadonlySet<string> | null;
}

export type AuthVerdict =
  | ({ readonly ok: true } & UssdCaller)
  | {
    readonly ok: false; readonly status: 401 | 403 | 429; readonly reason: AuthFailureReason; readonly source: string;
    readonly retryAfterMs: number; readonly failures: number;
  };

interface Identity {
  readonly aggregatorId: string | null;
  readonly secrets: SharedSecrets;
  readonly allowed: BlockList;
  readonly operatorIds: ReadonlySet<string> | null;
}

/** Whether a caller may act for `operatorId`. Pure. */
export function operatorAllowed(caller: UssdCaller, operatorId: string): boolean {
  return caller.operatorIds === null || caller.operatorIds.has(operatorId);
}

/** The edge's gatekeeper: allow lists, secrets (edge-wide and per aggregator) and the per-source failure limit, from config.ussd.http. */
export class UssdHttpAuth {
  readonly #identities: readonly Identity[];
  readonly #trustedProxies: BlockList | null;
  readonly #limiter: AuthFailureLimiter;

  constructor(http: Config['ussd']['http']) {
    const edgeAllowed = allowList(http.allowedAddresses);
    const edgeSecrets = new SharedSecrets([http.sharedSecret, http.sharedSecretPrevious].filter((s): s is string => Boolean(s)));
    const aggregators = http.aggregators.map((a): Identity => ({
      aggregatorId: a.id,
      secrets: new SharedSecrets([a.sharedSecret, a.sharedSecretPrevious].filter((s): s is string => Boolean(s))),
      allowed: a.allowedAddresses ? allowList(a.allowedAddresses) : edgeAllowed,
      operatorIds: new Set(a.operatorIds),
    }));
    // With no secret at all (a loopback edge), the edge-wide identity has none to check: the address alone.
    const edgeWide: Identity[] = edgeSecrets.size > 0 || aggregators.length === 0
      ? [{ aggregatorId: null, secrets: edgeSecrets, allowed: edgeAllowed, operatorIds: null }]
      : [];
    this.#identities = [...edgeWide, ...aggregators];
    this.#trustedProxies = http.trustedProxies.length > 0 ? allowList(http.trustedProxies) : null;
    this.#limiter = new AuthFailureLimiter({
      failuresMax: http.authFailuresMax, windowMs: http.authFailuresWindowMs, sourcesMax: http.authFailureSourcesMax,
    });
  }

  /** Whether callers must present a secret (none configured: a loopback-only edge, the allow list alone). */
  get requiresSecret(): boolean {
    return this.#identities.some((i) => i.secrets.size > 0);
  }

  /**
   * Decides on one request before its body is read. The caller is the socket peer, or behind a
   * trusted proxy the forwarded address. A secret that matches, from an address its aggregator
   * allows, lets it in whatever its source's failures: checking is cheap (SHA-256 and a
   * constant-time compare), so a flood from a shared source cannot shut out honest callers. A
   * failing request from a source over its limit gets 429 uncounted; otherwise an address off every
   * list gets 403, a missing or wrong secret 401, each counted toward the source's limit.
   */
  check(remoteAddress: string | undefined, headers: IncomingHttpHeaders, pathToken: string | null, nowMs: number): AuthVerdict {
    const source = clientAddress(remoteAddress, headers['x-forwarded-for'], this.#trustedProxies) || 'unknown';
    const presented = presentedSecret(headers, pathToken);
    const hashed = presentedDigest(presented);
    // Every identity's secrets are compared, so the time taken says nothing about which one matched.
    const matches = this.#identities.map((i) => (i.secrets.size === 0 || i.secrets.matches(hashed)));
    const matched = this.#identities.find((identity, n) => matches[n] && isAllowed(identity.allowed, source));
    if (matched) return { ok: true, source, aggregatorId: matched.aggregatorId, operatorIds: matched.operatorIds };
    const blockedMs = this.#limiter.blockedForMs(source, nowMs);
    if (blockedMs > 0) {
      return { ok: false, status: 429, reason: AuthFailureReasons.rateLimited, source, retryAfterMs: blockedMs, failures: 0 };
    }
    const refuse = (status: 401 | 403, reason: AuthFailureReason): AuthVerdict =>
      ({ ok: false, status, reason, source, retryAfterMs: 0, failures: this.#limiter.recordFailure(source, nowMs) });
    if (matches.some(Boolean) || !this.#identities.some((i) => isAllowed(i.allowed, source))) {
      return refuse(403, AuthFailureReasons.address);
    }
    if (presented === null || presented === '') return refuse(401, AuthFailureReasons.missingSecret);
    return refuse(401, AuthFailureReasons.wrongSecret);
  }
}
