// The operator's airtime top-up interface (docs/top-up-api.md): POST
// {baseUrl}/topups, idempotent on topUpId; after a timeout or a 5xx, GET
// {baseUrl}/topups/{topUpId} says whether it happened before anything is
// concluded. Amounts are decimal strings converted exactly from minor units.
import { minorToDecimal } from '../../../runtime/decimal-amount.js';
import { CarrierOutcome, type CarrierResult, type TopUpRequest } from './types.js';

export interface TopUpOptions {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  /** Bearer token; kept out of logs like every secret. */
  readonly apiKey?: string;
}

class Unanswered extends Error {
  override readonly name = 'Unanswered';
}

export class HttpTopUp {
  readonly #o: TopUpOptions;
  readonly #base: string;

  constructor(options: TopUpOptions) {
    this.#o = options;
    this.#base = options.baseUrl.replace(/\/+$/, '');
  }

  async topUp(request: TopUpRequest): Promise<CarrierResult> {
    const body = {
      topUpId: request.topUpId, msisdn: `+${request.msisdn}`,
      amount: { value: minorToDecimal(request.amountMinor, request.currency), currency: request.currency },
    };
    try {
      const { status, json } = await this.#call('POST', '/topups', body);
      if (status === 200 || status === 201) return outcomeOf(json, status);
      if (status === 429 || status >= 500) return this.#status(request.topUpId, `HTTP ${status}`);
      if (status === 404) return { outcome: CarrierOutcome.ACCOUNT_NOT_FOUND, detail: detailOf(json, status) };
      return { outcome: CarrierOutcome.REJECTED, detail: detailOf(json, status) };
    } catch (err) {
      if (!(err instanceof Unanswered)) throw err;
      return this.#status(request.topUpId, err.message);
    }
  }

  /** After no answer: the top-up's own status. Not there means not made; the same topUpId may be sent again. */
  async #status(topUpId: string, why: string): Promise<CarrierResult> {
    try {
      const { status, json } = await this.#call('GET', `/topups/${encodeURIComponent(topUpId)}`);
      if (status === 404) return { outcome: CarrierOutcome.UNAVAILABLE, detail: `${why}; no such top-up, safe to send again` };
      if (status === 200) return outcomeOf(json, status);
      return { outcome: CarrierOutcome.UNAVAILABLE, detail: `${why}; status HTTP ${status}` };
    } catch (err) {
      if (!(err instanceof Unanswered)) throw err;
      return { outcome: CarrierOutcome.UNAVAILABLE, detail: `${why}; status unanswered` };
    }
  }

  async #call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    let res: Response;
    try {
      res = await fetch(`${this.#base}${path}`, {
        method,
        headers: {
          accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.#o.apiKey ? { authorization: `Bearer ${this.#o.apiKey}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#o.timeoutMs),
      });
    } catch (cause) {
      throw new Unanswered(`${method} ${path} unanswered: ${(cause as Error).name}`, { cause });
    }
    const text = await res.text().catch(() => '');
    try {
      const json = text ? (JSON.parse(text) as unknown) : {};
      return { status: res.status, json: json && typeof json === 'object' ? (json as Record<string, unknown>) : {} };
    } catch {
      return { status: res.status, json: {} };
    }
  }
}

function outcomeOf(json: Record<string, unknown>, status: number): CarrierResult {
  switch (json.status) {
    case 'succeeded':
      return { outcome: CarrierOutcome.OK, detail: '' };
    case 'pending':
      return { outcome: CarrierOutcome.UNAVAILABLE, detail: 'top-up pending' };
    case 'failed':
      return { outcome: CarrierOutcome.REJECTED, detail: String(json.reason ?? 'top-up failed') };
    default:
      return { outcome: CarrierOutcome.UNAVAILABLE, detail: `HTTP ${status} without a known status` };
  }
}

function detailOf(json: Record<string, unknown>, status: number): string {
  return `HTTP ${status}${json.code ? ` ${String(json.code)}` : ''}${json.message ? `: ${String(json.message)}` : ''}`;
}
