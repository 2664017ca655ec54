// OAuth2 client-credentials access tokens (RFC 6749 section 4.4) for an
// operator's API: the client authenticates with HTTP Basic (section 2.3.1),
// the token is cached until its expiry minus a margin, one request at a time
// fetches it (callers waiting meanwhile share that request), and a caller told
// 401 asks for a fresh one with `invalidate`. The secret and the token are
// never logged; errors name the token URL and the status only.

export interface ClientCredentialsOptions {
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scope?: string;
  readonly timeoutMs: number;
  /** Renew this long before the token's expiry. */
  readonly refreshMarginMs: number;
  readonly now?: () => number;
}

/** A token the API did not give: the call cannot be made now (try later). */
/** How an operator's CAMARA API is reached (the charging API, the SIM Swap API): OAuth2 client credentials, bounded tries. */
export interface CamaraClientOptions {
  readonly timeoutMs: number;
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scope?: string;
  readonly tokenRefreshMarginMs?: number;
  readonly attemptsMax?: number;
  readonly retryDelayMs?: number;
}

/** The token source of one such client (a token refreshed 30 s before it expires unless told otherwise). */
export function clientCredentialsFor(options: CamaraClientOptions): ClientCredentials {
  return new ClientCredentials({
    tokenUrl: options.tokenUrl, clientId: options.clientId, clientSecret: options.clientSecret, scope: options.scope || undefined,
    timeoutMs: options.timeoutMs, refreshMarginMs: options.tokenRefreshMarginMs ?? 30_000,
  });
}

export class TokenUnavailable extends Error {
  override readonly name = 'TokenUnavailable';
}

/** Lifetime assumed when the server does not say (expires_in is only RECOMMENDED). */
const DEFAULT_LIFETIME_S = 300;

export class ClientCredentials {
  readonly #o: ClientCredentialsOptions;
  #token: { value: string; renewAtMs: number } | null = null;
  #pending: Promise<string> | null = null;

  constructor(options: ClientCredentialsOptions) {
    this.#o = options;
  }

  /** A valid access token, from the cache while it lasts. */
  async token(): Promise<string> {
    const now = (this.#o.now ?? Date.now)();
    if (this.#token && now < this.#token.renewAtMs) return this.#token.value;
    this.#pending ??= this.#fetch().finally(() => {
      this.#pending = null;
    });
    return this.#pending;
  }

  /** The API refused this token (expired or revoked early): the next call fetches another. */
  invalidate(token: string): void {
    if (this.#token?.value === token) this.#token = null;
  }

  async #fetch(): Promise<string> {
    const { tokenUrl, clientId, clientSecret, scope } = this.#o;
    const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (scope) form.set('scope', scope);
    let res: Response;
    try {
      res = await fetch(tokenUrl, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form.toString(),
        signal: AbortSignal.timeout(this.#o.timeoutMs),
      });
    } catch (cause) {
      throw new TokenUnavailable(`token request to ${tokenUrl} unanswered: ${(cause as Error).name}`, { cause });
    }
    const body = (await res.json().catch(() => ({}))) as { access_token?: unknown; token_type?: unknown; expires_in?: unknown };
    if (res.status !== 200 || typeof body.access_token !== 'string' || !body.access_token) {
      throw new TokenUnavailable(`token request to ${tokenUrl} answered ${res.status}`);
    }
    if (typeof body.token_type === 'string' && body.token_type.toLowerCase() !== 'bearer') {
      throw new TokenUnavailable(`token request to ${tokenUrl}: token type ${body.token_type} is not bearer`);
    }
    const lifetimeS = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : DEFAULT_LIFETIME_S;
    const now = (this.#o.now ?? Date.now)();
    this.#token = { value: body.access_token, renewAtMs: now + Math.max(0, lifetimeS * 1_000 - this.#o.refreshMarginMs) };
    return body.access_token;
  }
}
