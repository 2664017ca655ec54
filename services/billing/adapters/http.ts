// An operator's charging API over HTTPS, GSMA OneAPI / CAMARA style:
// reserve, capture (full or partial), release, and a status query, all keyed
// by a client correlator (our debit id), so a retry never charges twice. A
// timeout or a broken connection is followed by a status query before
// anything is concluded: the call may have gone through.
import { AccountIds } from '../ledger/rules.js';
import { CarrierOutcome, type CarrierAdapter, type CarrierResult, type ReserveRequest } from './types.js';

export interface HttpChargingOptions {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  /** Sent as a bearer token; kept out of logs like every secret. */
  readonly apiKey?: string;
}

type ReservationStatus = 'RESERVED' | 'CAPTURED' | 'RELEASED';

class Unanswered extends Error {
  override readonly name = 'Unanswered';
}

export class HttpChargingAdapter implements CarrierAdapter {
  readonly name = 'http' as const;
  readonly fundsCheckedInLedger = false;
  readonly #o: HttpChargingOptions;

  constructor(options: HttpChargingOptions) {
    this.#o = { ...options, baseUrl: options.baseUrl.replace(/\/+$/, '') };
  }

  payerAccountId(operatorId: string): string {
    return AccountIds.carrier(operatorId);
  }

  async reserve(request: ReserveRequest): Promise<CarrierResult> {
    const body = { clientCorrelator: request.debitId, msisdn: request.msisdn, amount: { value: request.amountMinor.toString(), currency: request.currency }, description: request.description };
    try {
      const { status, json } = await this.#call('POST', '/charging/v1/reservations', body);
      if (status >= 200 && status < 300) return json.status === undefined || json.status === 'RESERVED' ? ok() : { outcome: CarrierOutcome.REJECTED, detail: `reservation is ${String(json.status)}` };
      if (status === 402) return { outcome: CarrierOutcome.INSUFFICIENT_FUNDS, detail: '' };
      if (status === 404) return { outcome: CarrierOutcome.ACCOUNT_NOT_FOUND, detail: '' };
      if (status >= 500 || status === 429) return unavailable(`HTTP ${status}`);
      return { outcome: CarrierOutcome.REJECTED, detail: String(json.detail ?? json.error ?? `HTTP ${status}`) };
    } catch (err) {
      if (!(err instanceof Unanswered)) throw err;
      const state = await this.#status(request.debitId);
      // Reserved after all: go on. Not there: nothing is held, so a later try is safe.
      return state === 'RESERVED' ? ok() : unavailable(`reserve unanswered; status ${state ?? 'unknown'}`);
    }
  }

  async capture(debitId: string, amountMinor: bigint): Promise<CarrierResult> {
    try {
      const { status, json } = await this.#call('POST', `/charging/v1/reservations/${encodeURIComponent(debitId)}/capture`, { amount: { value: amountMinor.toString() } });
      if (status >= 200 && status < 300) return ok();
      if (status >= 500 || status === 429) return unavailable(`HTTP ${status}`);
      if (status === 409 || status === 410) {
        // "Not in a state to capture": maybe because it already is captured. Ask before concluding.
        const state = await this.#status(debitId);
        if (state === 'CAPTURED') return ok();
        if (state === null) return unavailable('capture refused; status unknown');
      }
      return { outcome: CarrierOutcome.REJECTED, detail: String(json.detail ?? json.error ?? `HTTP ${status}`) };
    } catch (err) {
      if (!(err instanceof Unanswered)) throw err;
      const state = await this.#status(debitId);
      if (state === 'CAPTURED') return ok();
      if (state === 'RESERVED' || state === null) return unavailable('capture unanswered');
      return { outcome: CarrierOutcome.REJECTED, detail: `reservation is ${state}` };
    }
  }

  async release(debitId: string): Promise<CarrierResult> {
    try {
      const { status, json } = await this.#call('POST', `/charging/v1/reservations/${encodeURIComponent(debitId)}/release`, {});
      if ((status >= 200 && status < 300) || status === 404) return ok(); // 404: the carrier holds nothing under this id
      if (status >= 500 || status === 429) return unavailable(`HTTP ${status}`);
      if (status === 409 || status === 410) {
        // Already released or expired is released; captured is not.
        const state = await this.#status(debitId);
        if (state === 'RELEASED' || state === 'NONE') return ok();
        if (state === null) return unavailable('release refused; status unknown');
      }
      return { outcome: CarrierOutcome.REJECTED, detail: String(json.detail ?? json.error ?? `HTTP ${status}`) };
    } catch (err) {
      if (!(err instanceof Unanswered)) throw err;
      const state = await this.#status(debitId);
      if (state === 'RELEASED' || state === 'NONE') return ok();
      if (state === 'CAPTURED') return { outcome: CarrierOutcome.REJECTED, detail: 'reservation is CAPTURED' };
      return unavailable('release unanswered');
    }
  }

  /** The carrier pays back part of a captured reservation; the refund id is the client correlator, so a retry is one refund. */
  async refund(refundId: string, debitId: string, amountMinor: bigint): Promise<CarrierResult> {
    try {
      const { status, json } = await this.#call('POST', `/charging/v1/reservations/${encodeURIComponent(debitId)}/refunds`, { clientCorrelator: refundId, amount: { value: amountMinor.toString() } });
      if (status >= 200 && status < 300) return ok();
      if (status >= 500 || status === 429) return unavailable(`HTTP ${status}`);
      return { outcome: CarrierOutcome.REJECTED, detail: String(json.detail ?? json.error ?? `HTTP ${status}`) };
    } catch (err) {
      if (!(err instanceof Unanswered)) throw err;
      return unavailable('refund unanswered'); // the correlator makes the retry safe
    }
  }

  async balance(_operatorId: string, msisdn: string): Promise<bigint | null> {
    try {
      const { status, json } = await this.#call('GET', `/charging/v1/balances/${encodeURIComponent(msisdn)}`);
      return status === 200 && /^-?\d+$/.test(String(json.balance)) ? BigInt(String(json.balance)) : null;
    } catch {
      return null;
    }
  }

  /** The carrier's view of a reservation: its status, NONE when it has none, null when it does not answer. */
  async #status(debitId: string): Promise<ReservationStatus | 'NONE' | null> {
    try {
      const { status, json } = await this.#call('GET', `/charging/v1/reservations/${encodeURIComponent(debitId)}`);
      if (status === 404) return 'NONE';
      if (status !== 200) return null;
      const s = String(json.status);
      return s === 'RESERVED' || s === 'CAPTURED' || s === 'RELEASED' ? s : null;
    } catch {
      return null;
    }
  }

  async #call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    let res: Response;
    try {
      res = await fetch(`${this.#o.baseUrl}${path}`, {
        method,
        headers: {
          'content-type': 'application/json',
          ...(this.#o.apiKey ? { authorization: `Bearer ${this.#o.apiKey}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#o.timeoutMs),
      });
    } catch (cause) {
      throw new Unanswered(`${method} ${path} unanswered: ${(cause as Error).name}`, { cause });
    }
    const text = await res.text().catch(() => '');
    let json: Record<string, unknown> = {};
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      json = {};
    }
    return { status: res.status, json };
  }
}

function ok(): CarrierResult {
  return { outcome: CarrierOutcome.OK, detail: '' };
}

function unavailable(detail: string): CarrierResult {
  return { outcome: CarrierOutcome.UNAVAILABLE, detail };
}
