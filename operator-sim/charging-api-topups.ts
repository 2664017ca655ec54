// The top-up contract (docs/top-up-api.md) the charging API simulator serves when asked: airtime
// credited to a number's balance on the operator's SimulatedCarrier, idempotent on topUpId.
import type { IncomingMessage } from 'node:http';
import type { SimulatedCarrier } from '../services/billing/index.js';
import { decimalToMinor, minorToDecimal } from '../runtime/decimal-amount.js';
import { CURRENCY_DECIMALS } from '../runtime/money.js';
import { E164, Reply, equal, problem } from './charging-api-wire.js';

export interface SimTopUp {
  readonly topUpId: string;
  readonly msisdn: string;
  readonly value: string;
  readonly currency: string;
  readonly status: 'succeeded' | 'failed';
  readonly reason?: string;
  readonly createdAt: Date;
  readonly fingerprint: string;
}

/** The charging API's faults that apply to top-ups too. */
export interface TopUpFaults {
  /** The number's requests are never answered. */
  hanging(msisdn: string): boolean;
  /** Carried out; answered late when the number is slow. */
  late(msisdn: string, reply: Reply): Promise<Reply>;
}

export class TopUps {
  readonly #topUps = new Map<string, SimTopUp>();
  readonly #refused = new Set<string>();
  readonly #carrier: SimulatedCarrier;
  readonly #apiKey: string | undefined;
  readonly #faults: TopUpFaults;

  constructor(carrier: SimulatedCarrier, apiKey: string | undefined, faults: TopUpFaults) {
    this.#carrier = carrier;
    this.#apiKey = apiKey;
    this.#faults = faults;
  }

  /** Top-ups to this number fail (a barred line). */
  refuse(msisdn: string): void {
    this.#refused.add(msisdn);
  }

  get(topUpId: string): SimTopUp | undefined {
    return this.#topUps.get(topUpId);
  }

  /** docs/top-up-api.md: POST /topups (idempotent on topUpId), GET /topups/{topUpId}. */
  async route(req: IncomingMessage, method: string, path: string, text: string): Promise<Reply | null> {
    const key = this.#apiKey;
    if (key && !equal(req.headers.authorization ?? '', `Bearer ${key}`)) {
      return problem(401, 'UNAUTHENTICATED', 'Missing or wrong API key.');
    }
    const parts = path.split('/').filter(Boolean); // topups {id}
    if (parts.length === 2 && method === 'GET') {
      const topUp = this.#topUps.get(decodeURIComponent(parts[1] as string));
      return topUp ? new Reply(200, topUpView(topUp)) : problem(404, 'NOT_FOUND', 'No such top-up.');
    }
    if (parts.length !== 1 || method !== 'POST') return problem(405, 'METHOD_NOT_ALLOWED', 'Method not allowed.');
    let body: Record<string, any> | null = null;
    try {
      body = JSON.parse(text) as Record<string, any>;
    } catch {
      body = null;
    }
    const currency = String(body?.amount?.currency ?? '');
    const value = body?.amount?.value;
    const amountMinor = typeof value === 'string' && CURRENCY_DECIMALS[currency] !== undefined ? decimalToMinor(value, currency) : null;
    if (!body || typeof body.topUpId !== 'string' || !body.topUpId || typeof body.msisdn !== 'string' || !E164.test(body.msisdn)
      || amountMinor === null || amountMinor <= 0n) {
      return problem(400, 'INVALID_ARGUMENT', 'topUpId, msisdn (E.164) and amount {value, currency} are required.');
    }
    const msisdn = body.msisdn.slice(1);
    if (this.#faults.hanging(msisdn)) return null;
    const fingerprint = JSON.stringify([msisdn, value, currency]);
    const existing = this.#topUps.get(body.topUpId);
    if (existing) {
      return existing.fingerprint === fingerprint
        ? new Reply(200, topUpView(existing)) : problem(409, 'ALREADY_EXISTS', 'topUpId already used for another top-up.');
    }
    const barred = this.#refused.has(msisdn);
    if (!barred) this.#carrier.setBalance(msisdn, this.#carrier.balanceOf(msisdn) + amountMinor);
    const topUp: SimTopUp = {
      topUpId: body.topUpId, msisdn, value: minorToDecimal(amountMinor, currency), currency, status: barred ? 'failed' : 'succeeded',
      ...(barred ? { reason: 'line barred' } : {}), createdAt: new Date(), fingerprint,
    };
    this.#topUps.set(topUp.topUpId, topUp);
    return this.#faults.late(msisdn, new Reply(201, topUpView(topUp)));
  }
}

export function topUpView(t: SimTopUp): Record<string, unknown> {
  return {
    topUpId: t.topUpId, msisdn: `+${t.msisdn}`, amount: { value: t.value, currency: t.currency }, status: t.status,
    ...(t.reason ? { reason: t.reason } : {}), createdAt: t.createdAt.toISOString(),
  };
}
