// One HTTP exchange with an operator's CAMARA API: an OAuth2 bearer token
// (fetched again once when the API answers 401: a token that expired in
// flight), an x-correlator on every call, 429, 5xx and no answer at all tried
// again a bounded number of times (every call we make is idempotent: prepare
// and refunds by their clientCorrelator, confirm and cancel by the payment's
// state, so a repeat of one that went through answers what it did), and
// JSON read with its numbers kept as text so an amount is read exactly.
import { randomUUID } from 'node:crypto';
import { parseJsonNumbersAsText, stringifyWithDecimals } from '../../../runtime/decimal-amount.js';
import { ClientCredentials, TokenUnavailable } from './oauth.js';

export interface CamaraHttpOptions {
  readonly timeoutMs: number;
  readonly attemptsMax: number;
  readonly retryDelayMs: number;
  readonly credentials: ClientCredentials;
}

/** No answer we can act on (timeout, broken connection, no token, 429/5xx after every try): ask the status before concluding. */
export class Unanswered extends Error {
  override readonly name = 'Unanswered';
}

export interface CamaraResponse {
  readonly status: number;
  /** The body, numbers as their literal text; {} when there is none. */
  readonly json: Record<string, unknown>;
}

const X_CORRELATOR_UNSAFE = /[^a-zA-Z0-9\-_:;./<>{}]/g;

export class CamaraHttp {
  readonly #o: CamaraHttpOptions;

  constructor(options: CamaraHttpOptions) {
    this.#o = options;
  }

  /** `about` names what the call is for (our debit or refund id); it starts the x-correlator. */
  async call(method: 'GET' | 'POST', url: string, about: string, body?: unknown): Promise<CamaraResponse> {
    const xCorrelator = `${about.replace(X_CORRELATOR_UNSAFE, '_').slice(0, 200)}:${randomUUID()}`;
    let refreshed = false;
    for (let attempt = 1; ; attempt++) {
      const token = await this.#token();
      let res: CamaraResponse;
      try {
        res = await this.#once(method, url, xCorrelator, token, body);
      } catch (err) {
        if (!(err instanceof Unanswered) || attempt >= this.#o.attemptsMax) throw err;
        await new Promise((r) => setTimeout(r, this.#o.retryDelayMs * attempt));
        continue;
      }
      if (res.status === 401 && !refreshed) {
        // Expired or revoked in flight: one fresh token, one more try.
        this.#o.credentials.invalidate(token);
        refreshed = true;
        attempt--;
        continue;
      }
      if (res.status === 429 || res.status >= 500) {
        if (attempt >= this.#o.attemptsMax) throw new Unanswered(`${method} ${pathOf(url)}: HTTP ${res.status} after ${attempt} tries`);
        await new Promise((r) => setTimeout(r, this.#o.retryDelayMs * attempt));
        continue;
      }
      return res;
    }
  }

  async #token(): Promise<string> {
    try {
      return await this.#o.credentials.token();
    } catch (err) {
      if (err instanceof TokenUnavailable) throw new Unanswered(err.message, { cause: err });
      throw err;
    }
  }

  async #once(method: string, url: string, xCorrelator: string, token: string, body: unknown): Promise<CamaraResponse> {
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          accept: 'application/json',
          authorization: `Bearer ${token}`,
          'x-correlator': xCorrelator,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : stringifyWithDecimals(body),
        signal: AbortSignal.timeout(this.#o.timeoutMs),
      });
    } catch (cause) {
      throw new Unanswered(`${method} ${pathOf(url)} unanswered: ${(cause as Error).name}`, { cause });
    }
    let text: string;
    try {
      text = await res.text();
    } catch (cause) {
      throw new Unanswered(`${method} ${pathOf(url)}: answer cut off`, { cause });
    }
    let json: Record<string, unknown> = {};
    try {
      const parsed = text ? parseJsonNumbersAsText(text) : {};
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
      else if (Array.isArray(parsed)) json = { items: parsed };
    } catch {
      json = {};
    }
    return { status: res.status, json };
  }
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}
