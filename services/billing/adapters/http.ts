// An operator's GSMA Open Gateway / CAMARA charging API: Carrier Billing 0.5.0
// two-step payments and Carrier Billing Refund 0.3.0
// (../shared/camara/carrier-billing/code/API_definitions/).
//
//   reserve  -> POST /payments/prepare            (clientCorrelator = our debit id)
//   capture  -> POST /payments/{paymentId}/confirm, then a partial refund of any unused part
//   release  -> POST /payments/{paymentId}/cancel
//   refund   -> POST /payments/{paymentId}/refunds (clientCorrelator = our refund id)
//   status   -> GET  /payments/{paymentId}, or GET /payments (by creation date) and our
//               clientCorrelator when the paymentId never reached us
//
// The paymentId is the operator's, learnt from prepare and kept by billing on
// the debit (CarrierResult.carrierRef). A timeout, a broken connection, or
// 429/5xx after the bounded retries is followed by a status query before
// anything is concluded: the call may have gone through. Nothing is ever
// charged twice: prepare and refunds are idempotent on their clientCorrelator,
// confirm only runs on a payment the status shows `reserved`. Amounts are JSON
// numbers written and read as exact decimal literals (runtime/decimal-amount.ts).
import { decimalToMinor, JsonDecimal, minorToDecimal } from '../../../runtime/decimal-amount.js';
import { AccountIds } from '../ledger/rules.js';
import { CamaraHttp, Unanswered, type CamaraResponse } from './camara-http.js';
import { clientCredentialsFor, type CamaraClientOptions } from './oauth.js';
import { HttpTopUp, type TopUpOptions } from './top-up-http.js';
import { CarrierOutcome, type CarrierAdapter, type CarrierResult, type ReserveRequest, type TopUpRequest } from './types.js';

export interface HttpChargingOptions extends CamaraClientOptions {
  /** API root; the standard server paths below it are appended. */
  readonly baseUrl: string;
  readonly lookupWindowMs?: number;
  readonly lookupPagesMax?: number;
  /** How far the operator's clock may be from ours: a lookup from a known time reaches this far around it. */
  readonly lookupSkewMs?: number;
  /** The operator's top-up interface (docs/top-up-api.md); without it the adapter has no topUp. */
  readonly topUp?: TopUpOptions;
}

export const CARRIER_BILLING_PATH = '/carrier-billing/v0.5';
export const CARRIER_BILLING_REFUND_PATH = '/carrier-billing-refund/v0.3';

/** A payment as the operator shows it; amount as exact decimal text. */
interface CamaraPayment {
  readonly paymentId: string;
  readonly paymentStatus: string;
  readonly phoneNumber: string;
  readonly clientCorrelator: string;
  readonly amount: string;
  readonly currency: string;
}

/** What a status query learnt: the payment, none (the operator has none), or unknown (it could not say). */
type Lookup = CamaraPayment | 'none' | 'unknown';

const PAGE_SIZE = 100;
/** The statuses in which a payment still holds money at the operator. */
const OPEN_STATUSES = ['processing', 'pending_validation', 'reserved'] as const;
/**
 * Payments this process prepared, remembered (number, amount) so confirm and cancel need not read
 * them first; the oldest are forgotten past this, and are then read with GET.
 */
const KNOWN_PAYMENTS_MAX = 50_000;
/** A payment still `processing` is asked again this many times, this far apart, before "try later". */
const PROCESSING_POLLS = 3;
const PROCESSING_POLL_MS = 100;

export class HttpChargingAdapter implements CarrierAdapter {
  readonly name = 'http' as const;
  readonly fundsCheckedInLedger = false;
  readonly topUp?: (request: TopUpRequest) => Promise<CarrierResult>;
  readonly #o: HttpChargingOptions;
  readonly #http: CamaraHttp;
  readonly #payments: string;
  readonly #refunds: string;
  readonly #known = new Map<string, CamaraPayment>();

  constructor(options: HttpChargingOptions) {
    this.#o = options;
    const root = options.baseUrl.replace(/\/+$/, '');
    this.#payments = `${root}${CARRIER_BILLING_PATH}/payments`;
    this.#refunds = `${root}${CARRIER_BILLING_REFUND_PATH}/payments`;
    const credentials = clientCredentialsFor(options);
    this.#http = new CamaraHttp({
      timeoutMs: options.timeoutMs, attemptsMax: options.attemptsMax ?? 3, retryDelayMs: options.retryDelayMs ?? 200, credentials,
    });
    if (options.topUp) {
      const topUp = new HttpTopUp(options.topUp);
      this.topUp = (request) => topUp.topUp(request);
    }
  }

  payerAccountId(operatorId: string): string {
    return AccountIds.carrier(operatorId);
  }

  async reserve(request: ReserveRequest): Promise<CarrierResult> {
    const body = {
      amountTransaction: {
        phoneNumber: `+${request.msisdn}`,
        clientCorrelator: request.debitId,
        referenceCode: request.debitId,
        paymentAmount: {
          chargingInformation: {
            amount: new JsonDecimal(minorToDecimal(request.amountMinor, request.currency)), currency: request.currency,
            description: request.description || 'dialpay payment',
          },
        },
      },
    };
    // No payment of ours can be older than this debit's claim, nor than this call's prepare.
    const sinceMs = Math.min(request.claimedAtMs ?? Date.now(), Date.now());
    let res: CamaraResponse;
    try {
      res = await this.#http.call('POST', `${this.#payments}/prepare`, request.debitId, body);
    } catch (err) {
      if (!(err instanceof Unanswered)) throw err;
      // Did the operator make it? Find it by our clientCorrelator before concluding anything.
      const found = await this.#settled(await this.#find(request.debitId, [], sinceMs));
      // It may have: not a refusal, ask again later (billing keeps the claim and retries).
      if (found === 'unknown') return uncertain(`${err.message}; status unknown`);
      if (found === 'none') return unavailable(`${err.message}; the operator has no such payment`);
      return this.#reserved(found);
    }
    if (res.status === 201 || res.status === 200) {
      const payment = readPayment(res.json);
      if (!payment) return unavailable('prepare answered without a payment');
      return this.#reserved(await this.#settled(payment));
    }
    const code = errorCode(res);
    if (res.status === 403 && code === 'CARRIER_BILLING.PAYMENT_DENIED') {
      return { outcome: CarrierOutcome.INSUFFICIENT_FUNDS, detail: errorText(res) };
    }
    if (res.status === 404) return { outcome: CarrierOutcome.ACCOUNT_NOT_FOUND, detail: errorText(res) };
    if (res.status === 400 || res.status === 409) {
      // Our clientCorrelator is already in use: a payment of ours under it, made earlier? Ask.
      const found = await this.#settled(await this.#find(request.debitId, [], sinceMs));
      if (typeof found === 'object' && decimalToMinor(found.amount, found.currency) === request.amountMinor) return this.#reserved(found);
      if (found === 'unknown') return uncertain(`prepare refused (${errorText(res)}); status unknown`);
    }
    if (res.status === 401) return unavailable(`not authorised: ${errorText(res)}`);
    return { outcome: CarrierOutcome.REJECTED, detail: errorText(res) };
  }

  async capture(debitId: string, amountMinor: bigint, carrierRef?: string): Promise<CarrierResult> {
    const before = await this.#settled(await this.#lookup(debitId, carrierRef));
    if (typeof before === 'object') this.#known.delete(before.paymentId);
    if (before === 'unknown') return unavailable('capture: payment status unknown');
    if (before === 'none') return { outcome: CarrierOutcome.REJECTED, detail: 'the operator has no such payment' };
    let after: Lookup = before;
    if (before.paymentStatus === 'reserved') {
      try {
        const res = await this.#http.call('POST', `${this.#payments}/${encodeURIComponent(before.paymentId)}/confirm`, debitId,
          { phoneNumber: before.phoneNumber });
        if (res.status === 401) return unavailable(`not authorised: ${errorText(res)}`);
        if (res.status !== 202 && res.status !== 409) return { outcome: CarrierOutcome.REJECTED, detail: errorText(res) };
      } catch (err) {
        if (!(err instanceof Unanswered)) throw err; // confirmed or not: the status below tells
      }
      after = await this.#settled(await this.#get(before.paymentId, debitId));
    }
    if (after === 'unknown' || after === 'none') return unavailable('capture: payment status unknown after confirm');
    switch (after.paymentStatus) {
      case 'succeeded':
        return this.#giveBackUnused(after, debitId, amountMinor);
      case 'reserved':
      case 'processing':
        return unavailable(`payment is ${after.paymentStatus}`);
      default:
        return { outcome: CarrierOutcome.REJECTED, detail: `payment is ${after.paymentStatus}` };
    }
  }

  async release(debitId: string, carrierRef?: string, claimedAtMs?: number): Promise<CarrierResult> {
    // Without a paymentId only a payment that still holds money matters: look among the open ones,
    // made since billing claimed the debit (only then is "none" a sure answer).
    const before = await this.#lookup(debitId, carrierRef, OPEN_STATUSES, claimedAtMs);
    if (typeof before === 'object') this.#known.delete(before.paymentId);
    if (before === 'unknown') return unavailable('release: payment status unknown');
    if (before === 'none') return ok(); // the operator holds nothing under this debit
    if (before.paymentStatus === 'cancelled' || before.paymentStatus === 'denied') return ok();
    if (before.paymentStatus === 'succeeded') return { outcome: CarrierOutcome.REJECTED, detail: 'payment is succeeded' };
    try {
      const res = await this.#http.call('POST', `${this.#payments}/${encodeURIComponent(before.paymentId)}/cancel`, debitId,
        { phoneNumber: before.phoneNumber });
      if (res.status === 202 || res.status === 404) return ok();
      if (res.status === 401) return unavailable(`not authorised: ${errorText(res)}`);
      if (res.status === 409 && errorCode(res) === 'CARRIER_BILLING.PAYMENT_CANCELLED') return ok();
      if (res.status === 409 && errorCode(res) === 'CARRIER_BILLING.PAYMENT_CONFIRMED') {
        return { outcome: CarrierOutcome.REJECTED, detail: 'payment is succeeded' };
      }
      // Refused for another reason: what the payment's status says decides whether anything is still held.
      const after = await this.#get(before.paymentId, debitId);
      if (typeof after === 'object' && (after.paymentStatus === 'cancelled' || after.paymentStatus === 'denied')) return ok();
      if (after === 'unknown') return unavailable(`cancel refused (${errorText(res)}); status unknown`);
      const status = typeof after === 'object' ? after.paymentStatus : 'unknown to the operator';
      return { outcome: CarrierOutcome.REJECTED, detail: `cancel refused (${errorText(res)}); payment is ${status}` };
    } catch (err) {
      if (!(err instanceof Unanswered)) throw err;
      const after = await this.#get(before.paymentId, debitId);
      if (typeof after === 'object' && (after.paymentStatus === 'cancelled' || after.paymentStatus === 'denied')) return ok();
      if (typeof after === 'object' && after.paymentStatus === 'succeeded') {
        return { outcome: CarrierOutcome.REJECTED, detail: 'payment is succeeded' };
      }
      return unavailable(`${err.message}; not cancelled yet`);
    }
  }

  /** Gives back part of a captured payment; the refund id is the clientCorrelator, so a retry is one refund. */
  async refund(refundId: string, debitId: string, amountMinor: bigint, carrierRef?: string): Promise<CarrierResult> {
    const payment = await this.#lookup(debitId, carrierRef);
    if (payment === 'unknown') return unavailable('refund: payment status unknown');
    if (payment === 'none') return { outcome: CarrierOutcome.REJECTED, detail: 'the operator has no such payment' };
    return this.#refundPart(payment, refundId, amountMinor, 'refund');
  }

  /** CAMARA Carrier Billing says nothing of balances: BAL cannot show the carrier's. */
  async balance(): Promise<bigint | null> {
    return null;
  }

  /** A confirm takes the whole reserved amount; what the payment did not use goes back as a partial refund. */
  async #giveBackUnused(payment: CamaraPayment, debitId: string, capturedMinor: bigint): Promise<CarrierResult> {
    const reservedMinor = decimalToMinor(payment.amount, payment.currency);
    if (reservedMinor === null) return unavailable(`payment amount ${payment.amount} ${payment.currency} unreadable`);
    if (capturedMinor > reservedMinor) return { outcome: CarrierOutcome.REJECTED, detail: 'capture exceeds the reserved amount' };
    if (capturedMinor === reservedMinor) return ok(payment.paymentId);
    const rest = await this.#refundPart(payment, `${debitId}.unused`, reservedMinor - capturedMinor, 'unused part of a payment');
    // Captured, but the unused part is not back yet: try the capture again (confirm is skipped, the refund is idempotent).
    if (rest.outcome !== CarrierOutcome.OK) return unavailable(`unused part not given back: ${rest.detail}`);
    return ok(payment.paymentId);
  }

  async #refundPart(payment: CamaraPayment, refundId: string, amountMinor: bigint, reason: string): Promise<CarrierResult> {
    const body = {
      type: 'partial',
      reason,
      amountTransaction: {
        clientCorrelator: refundId,
        referenceCode: refundId,
        refundAmount: {
          chargingInformation: {
            amount: new JsonDecimal(minorToDecimal(amountMinor, payment.currency)), currency: payment.currency, description: reason,
          },
        },
      },
    };
    const url = `${this.#refunds}/${encodeURIComponent(payment.paymentId)}/refunds`;
    for (let poll = 0; ; poll++) {
      let res: CamaraResponse;
      try {
        res = await this.#http.call('POST', url, refundId, body);
      } catch (err) {
        if (!(err instanceof Unanswered)) throw err;
        return unavailable(`${err.message}; the refund's clientCorrelator makes the retry safe`);
      }
      if (res.status === 201 || res.status === 200) {
        const status = String(res.json.refundStatus ?? '');
        if (status === 'succeeded') return ok(payment.paymentId);
        if (status === 'denied') return { outcome: CarrierOutcome.REJECTED, detail: 'refund denied' };
        // processing: the same clientCorrelator asks again and gets this refund back.
        if (poll >= PROCESSING_POLLS) return unavailable(`refund is ${status || 'without a status'}`);
        await new Promise((r) => setTimeout(r, PROCESSING_POLL_MS));
        continue;
      }
      if (res.status === 401) return unavailable(`not authorised: ${errorText(res)}`);
      // Our clientCorrelator already in use: a refund of ours an earlier try made (its answer lost)?
      if (res.status === 400 || res.status === 409) return this.#refundByCorrelator(payment, refundId, errorText(res));
      return { outcome: CarrierOutcome.REJECTED, detail: errorText(res) };
    }
  }

  /** The payment's refunds, and ours among them by clientCorrelator: done, still going, or never made. */
  async #refundByCorrelator(payment: CamaraPayment, refundId: string, refusal: string): Promise<CarrierResult> {
    let res: CamaraResponse;
    try {
      res = await this.#http.call('GET', `${this.#refunds}/${encodeURIComponent(payment.paymentId)}/refunds`, refundId);
    } catch (err) {
      if (err instanceof Unanswered) return unavailable(`refund refused (${refusal}); its refunds unknown: ${err.message}`);
      throw err;
    }
    if (res.status !== 200 || !Array.isArray(res.json.items)) {
      return unavailable(`refund refused (${refusal}); its refunds unknown: HTTP ${res.status}`);
    }
    const ours = (res.json.items as unknown[]).find((r): r is Record<string, any> =>
      !!r && typeof r === 'object' && (r as Record<string, any>).amountTransaction?.clientCorrelator === refundId);
    if (!ours) return { outcome: CarrierOutcome.REJECTED, detail: `refund refused (${refusal}); none of ours under ${refundId}` };
    const status = String(ours.refundStatus ?? '');
    if (status === 'succeeded') return ok(payment.paymentId);
    if (status === 'denied') return { outcome: CarrierOutcome.REJECTED, detail: 'refund denied' };
    return unavailable(`refund is ${status || 'without a status'}`);
  }

  #reserved(payment: CamaraPayment | 'none' | 'unknown'): CarrierResult {
    if (payment === 'unknown') return uncertain('payment status unknown');
    if (payment === 'none') return unavailable('the operator has no such payment');
    switch (payment.paymentStatus) {
      case 'reserved':
        this.#remember(payment);
        return ok(payment.paymentId);
      case 'processing':
        return { outcome: CarrierOutcome.UNAVAILABLE, detail: 'payment still processing', carrierRef: payment.paymentId, uncertain: true };
      case 'denied':
        return { outcome: CarrierOutcome.INSUFFICIENT_FUNDS, detail: 'payment denied', carrierRef: payment.paymentId };
      default: // pending_validation (an OTP flow dialpay does not use), cancelled, succeeded: not a reserve we can use
        return { outcome: CarrierOutcome.REJECTED, detail: `payment is ${payment.paymentStatus}`, carrierRef: payment.paymentId };
    }
  }

  /** A payment still `processing` is asked again a few times. */
  async #settled(lookup: Lookup): Promise<Lookup> {
    let current = lookup;
    for (let i = 0; i < PROCESSING_POLLS && typeof current === 'object' && current.paymentStatus === 'processing'; i++) {
      await new Promise((r) => setTimeout(r, PROCESSING_POLL_MS));
      current = await this.#get(current.paymentId, current.clientCorrelator);
    }
    return current;
  }

  /**
   * The payment by the paymentId billing kept, else by our clientCorrelator. One this process
   * prepared is taken as still `reserved` without asking: confirm and cancel answer 409 when it
   * is not, and their callers read the status then.
   */
  async #lookup(debitId: string, carrierRef: string | undefined, statuses: readonly string[] = [], sinceMs?: number): Promise<Lookup> {
    const known = carrierRef ? this.#known.get(carrierRef) : undefined;
    if (known) return known;
    return carrierRef ? this.#get(carrierRef, debitId) : this.#find(debitId, statuses, sinceMs);
  }

  #remember(payment: CamaraPayment): void {
    this.#known.set(payment.paymentId, { ...payment, paymentStatus: 'reserved' });
    if (this.#known.size > KNOWN_PAYMENTS_MAX) this.#known.delete(this.#known.keys().next().value as string);
  }

  async #get(paymentId: string, about: string): Promise<Lookup> {
    try {
      const res = await this.#http.call('GET', `${this.#payments}/${encodeURIComponent(paymentId)}`, about);
      if (res.status === 404) return 'none';
      return res.status === 200 ? (readPayment(res.json) ?? 'unknown') : 'unknown';
    } catch (err) {
      if (err instanceof Unanswered) return 'unknown';
      throw err;
    }
  }

  /**
   * retrievePayments filters by creation date, status and merchant, not by clientCorrelator:
   * page through them (in these statuses, when given) and match ours. With `sinceMs` (no payment of
   * ours is older: our claim, our prepare) only those created from then (less the clock skew) to now
   * are read, oldest first, so ours comes within the first few; 'none' after their last page is sure.
   * Without it the newest of the last lookupWindowMs are read, and finding nothing there is no proof
   * (the payment may be older, or behind the pages read): 'unknown'.
   */
  async #find(clientCorrelator: string, statuses: readonly string[] = [], sinceMs?: number): Promise<Lookup> {
    const skewMs = this.#o.lookupSkewMs ?? 30_000;
    const bounds: Record<string, string> = sinceMs === undefined
      ? { 'paymentCreationDate.gte': new Date(Date.now() - (this.#o.lookupWindowMs ?? 3_600_000)).toISOString(), order: 'desc' }
      : {
        'paymentCreationDate.gte': new Date(sinceMs - skewMs).toISOString(),
        'paymentCreationDate.lte': new Date(Date.now() + skewMs).toISOString(), order: 'asc',
      };
    for (let page = 1; page <= (this.#o.lookupPagesMax ?? 20); page++) {
      const query = new URLSearchParams({ ...bounds, perPage: String(PAGE_SIZE), page: String(page) });
      for (const status of statuses) query.append('paymentStatus', status);
      let res: CamaraResponse;
      try {
        res = await this.#http.call('GET', `${this.#payments}?${query}`, clientCorrelator);
      } catch (err) {
        if (err instanceof Unanswered) return 'unknown';
        throw err;
      }
      if (res.status !== 200 || !Array.isArray(res.json.items)) return 'unknown';
      const items = res.json.items as unknown[];
      for (const item of items) {
        const payment = readPayment(item);
        if (payment?.clientCorrelator === clientCorrelator) return payment;
      }
      if (items.length < PAGE_SIZE) return sinceMs === undefined ? 'unknown' : 'none';
    }
    return 'unknown';
  }
}

function readPayment(json: unknown): CamaraPayment | null {
  if (!json || typeof json !== 'object') return null;
  const p = json as Record<string, any>;
  const t = p.amountTransaction as Record<string, any> | undefined;
  const charging = t?.paymentAmount?.chargingInformation as Record<string, unknown> | undefined;
  if (typeof p.paymentId !== 'string' || typeof p.paymentStatus !== 'string' || !charging) return null;
  return {
    paymentId: p.paymentId,
    paymentStatus: p.paymentStatus,
    phoneNumber: String(t?.phoneNumber ?? ''),
    clientCorrelator: String(t?.clientCorrelator ?? ''),
    amount: String(charging.amount ?? ''),
    currency: String(charging.currency ?? ''),
  };
}

function errorCode(res: CamaraResponse): string {
  return String(res.json.code ?? '');
}

function errorText(res: CamaraResponse): string {
  return `HTTP ${res.status}${res.json.code ? ` ${String(res.json.code)}` : ''}${res.json.message ? `: ${String(res.json.message)}` : ''}`;
}

function ok(carrierRef?: string): CarrierResult {
  return carrierRef ? { outcome: CarrierOutcome.OK, detail: '', carrierRef } : { outcome: CarrierOutcome.OK, detail: '' };
}

function unavailable(detail: string): CarrierResult {
  return { outcome: CarrierOutcome.UNAVAILABLE, detail };
}

/** Unavailable, and the operator may have done it: nothing may be concluded (CarrierResult.uncertain). */
function uncertain(detail: string): CarrierResult {
  return { outcome: CarrierOutcome.UNAVAILABLE, detail, uncertain: true };
}
