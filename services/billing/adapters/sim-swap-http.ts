// An operator's CAMARA SIM Swap API (2.x, ../shared/camara/sim-swap/, release r3.3): POST {url}/check
// with the payer's number (E.164, '+') and maxAge in hours answers { swapped }. Same machinery as
// the charging API (camara-http.ts): OAuth2 client credentials, an x-correlator naming the debit,
// 429/5xx/no answer tried again a bounded number of times. A check is a read: asking again is safe.
// Anything but a 200 with a boolean `swapped` is "unavailable" with the reason; the caller decides
// (operators[].simSwap.onUnavailable). The number is never in an error text (errors name the status).
import { CamaraHttp, Unanswered } from './camara-http.js';
import { clientCredentialsFor, type CamaraClientOptions } from './oauth.js';

export interface SimSwapApiOptions extends CamaraClientOptions {
  /** The API root with its version path, such as https://api.operator.example/sim-swap/v2. */
  readonly url: string;
  readonly attemptsMax: number;
  readonly retryDelayMs: number;
}

export type SimSwapAnswer =
  | { readonly kind: 'swapped' }
  | { readonly kind: 'not-swapped' }
  | { readonly kind: 'unavailable'; readonly detail: string };

/** CAMARA's maxAge bounds, in hours (CreateCheckSimSwap). */
export const SIM_SWAP_MAX_AGE_HOURS_MAX = 2_400;

export class SimSwapApi {
  readonly #check: string;
  readonly #http: CamaraHttp;

  constructor(options: SimSwapApiOptions) {
    this.#check = `${options.url.replace(/\/+$/, '')}/check`;
    const credentials = clientCredentialsFor(options);
    const { timeoutMs, attemptsMax, retryDelayMs } = options;
    this.#http = new CamaraHttp({ timeoutMs, attemptsMax, retryDelayMs, credentials });
  }

  /** Was the SIM of `msisdn` (digits, no '+') swapped within `maxAgeHours`? `about` (the debit id) starts the x-correlator. */
  async check(msisdn: string, maxAgeHours: number, about: string): Promise<SimSwapAnswer> {
    if (!/^[1-9]\d{4,14}$/.test(msisdn)) return { kind: 'unavailable', detail: 'not an E.164 number' };
    if (!Number.isInteger(maxAgeHours) || maxAgeHours < 1 || maxAgeHours > SIM_SWAP_MAX_AGE_HOURS_MAX) {
      return { kind: 'unavailable', detail: `maxAge ${maxAgeHours} outside 1..${SIM_SWAP_MAX_AGE_HOURS_MAX}` };
    }
    try {
      const res = await this.#http.call('POST', this.#check, about, { phoneNumber: `+${msisdn}`, maxAge: maxAgeHours });
      if (res.status === 200 && typeof res.json.swapped === 'boolean') return { kind: res.json.swapped ? 'swapped' : 'not-swapped' };
      const code = typeof res.json.code === 'string' ? ` ${res.json.code}` : '';
      return { kind: 'unavailable', detail: res.status === 200 ? 'answer without a boolean swapped' : `HTTP ${res.status}${code}` };
    } catch (err) {
      if (err instanceof Unanswered) return { kind: 'unavailable', detail: err.message };
      throw err;
    }
  }
}
