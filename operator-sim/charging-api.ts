// The simulated operator's charging API: CAMARA Carrier Billing 0.5.0
// (two-step payments: prepare, confirm, cancel, retrieve one, retrieve a list)
// and Carrier Billing Refund 0.3.0 (create, retrieve, list, remaining amount),
// as defined in ../shared/camara/carrier-billing/code/API_definitions/, with an
// OAuth2 client-credentials token endpoint (POST /oauth2/token) and, when
// asked, the airtime top-up contract of docs/top-up-api.md. Behaviour follows
// the CAMARA Gherkin scenarios (code/Test_definitions/):
//   - every answer carries the request's x-correlator; a malformed one is 400 INVALID_ARGUMENT;
//   - no or an expired/unknown bearer token: 401 UNAUTHENTICATED;
//   - prepare: a clientCorrelator sent again with the same body answers the payment it made
//     (idempotent); with another body, 400 INVALID_ARGUMENT while that payment is not completed
//     (prepare_payment_400.05) and 409 ALREADY_EXISTS once it is; a referenceCode reused without
//     a clientCorrelator, 409 ALREADY_EXISTS (prepare_payment_409.01); not enough credit,
//     403 CARRIER_BILLING.PAYMENT_DENIED; a barred line, 422 SERVICE_NOT_APPLICABLE; no
//     phoneNumber, 422 MISSING_IDENTIFIER;
//   - confirm / cancel: unknown paymentId 404 NOT_FOUND; already confirmed 409
//     CARRIER_BILLING.PAYMENT_CONFIRMED; already cancelled 409 CARRIER_BILLING.PAYMENT_CANCELLED;
//   - refunds: idempotent on clientCorrelator like prepare; a payment not `succeeded`, 422
//     CARRIER_BILLING_REFUND.INVALID_PAYMENT_STATUS; more than remains, 422
//     CARRIER_BILLING_REFUND.UNAUTHORIZED_AMOUNT.
// Balances (a SimulatedCarrier), payments, refunds and tokens live in this
// process, so billing can crash and restart while the operator remembers.
// Faults: `hang` and `answerLate` for a number (prepare, confirm, cancel and refunds: the work is
// done, the answer lost), `failNext` (429/5xx), `failLists` (retrievePayments answers 503),
// `refuseCancels` for a number, `strictRefundCorrelators` (an operator that answers a repeated refund
// clientCorrelator 409 even with the same body), `expireTokens`.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { closeServer, listenJson } from './json-server.js';
import type { AddressInfo } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import { SimulatedCarrier } from '../services/billing/index.js';
import { decimalToMinor, JsonDecimal, minorToDecimal, stringifyWithDecimals } from '../runtime/decimal-amount.js';
import { CURRENCY_DECIMALS } from '../runtime/money.js';
import {
  E164, PER_PAGE_MAX, Reply, X_CORRELATOR, basicCredentials, equal, notFound, parse, problem, readText, refundView,
  remaining, view, type Exchange, type SimPayment, type SimRefund,
} from './charging-api-wire.js';
import { TopUps, type SimTopUp } from './charging-api-topups.js';

export interface ChargingApiOptions {
  readonly host?: string;
  readonly port?: number;
  readonly openingBalanceMinor: bigint;
  /** The OAuth2 client allowed to ask for tokens; without an id any client is given one. */
  readonly clientId?: string;
  readonly clientSecret?: string;
  readonly tokenLifetimeSeconds?: number;
  /** Serve the top-up contract (docs/top-up-api.md) under this path ('' for the root), with this bearer key. */
  readonly topUp?: { readonly path: string; readonly apiKey?: string };
  /** Share another simulator's balances (the same operator's top-up server). */
  readonly carrier?: SimulatedCarrier;
  /** Keep every exchange in `exchanges` (the contract test). */
  readonly record?: boolean;
}

export const CARRIER_BILLING_BASE = '/carrier-billing/v0.5';
export const CARRIER_BILLING_REFUND_BASE = '/carrier-billing-refund/v0.3';
export const TOKEN_PATH = '/oauth2/token';
export class ChargingApiSimulator {
  readonly carrier: SimulatedCarrier;
  readonly exchanges: Exchange[] = [];
  readonly #o: ChargingApiOptions;
  readonly #payments = new Map<string, SimPayment>();
  readonly #byCorrelator = new Map<string, SimPayment>();
  readonly #byReference = new Map<string, SimPayment>();
  /** Creation order, for the list. */
  readonly #order: SimPayment[] = [];
  readonly #topUps: TopUps;
  readonly #tokens = new Map<string, number>();
  readonly #hanging = new Set<string>();
  readonly #slow = new Map<string, number>();
  readonly #cancelRefused = new Set<string>();
  #failures: { count: number; status: number } = { count: 0, status: 503 };
  #listFailures = 0;
  #strictRefunds = false;
  #server: Server | null = null;
  #sequence = 0;
  /** Access tokens issued so far. */
  tokensIssued = 0;

  constructor(options: ChargingApiOptions) {
    this.#o = options;
    this.carrier = options.carrier ?? new SimulatedCarrier({ openingBalanceMinor: options.openingBalanceMinor });
    this.#topUps = new TopUps(this.carrier, options.topUp?.apiKey,
      { hanging: (msisdn) => this.#hanging.has(msisdn), late: (msisdn, reply) => this.#late(msisdn, reply) });
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server?.address() as AddressInfo).port}`;
  }

  get tokenUrl(): string {
    return `${this.url}${TOKEN_PATH}`;
  }

  /** Calls about this number get no answer (a carrier timeout) until `answer` is called. */
  hang(msisdn: string): void {
    this.#hanging.add(msisdn);
  }

  answer(msisdn: string): void {
    this.#hanging.delete(msisdn);
    this.#slow.delete(msisdn);
  }

  /** Calls about this number are carried out, but answered only after `delayMs` (the answer is lost to a timeout). */
  answerLate(msisdn: string, delayMs: number): void {
    this.#slow.set(msisdn, delayMs);
  }

  /** The next `count` API calls are answered `status` (429 or 5xx) without being carried out. */
  failNext(count: number, status = 503): void {
    this.#failures = { count, status };
  }

  /** The next `count` retrievePayments calls are answered 503 (the status cannot be learnt). */
  failLists(count: number): void {
    this.#listFailures = count;
  }

  /** retrievePayments calls still to be answered 503. */
  get listFailuresLeft(): number {
    return this.#listFailures;
  }

  /** Cancels of this number's payments are refused (403 PERMISSION_DENIED) until `allowCancels`. */
  refuseCancels(msisdn: string): void {
    this.#cancelRefused.add(msisdn);
  }

  allowCancels(msisdn: string): void {
    this.#cancelRefused.delete(msisdn);
  }

  /** A refund clientCorrelator sent again answers 409 ALREADY_EXISTS even with the same body (not idempotent). */
  strictRefundCorrelators(on: boolean): void {
    this.#strictRefunds = on;
  }

  /** Every token issued so far expires now (a token that expires while a call is in flight). */
  expireTokens(): void {
    for (const token of this.#tokens.keys()) this.#tokens.set(token, 0);
  }

  /** Top-ups to this number are refused (status failed), as for a line that cannot take airtime. */
  refuseTopUps(msisdn: string): void {
    this.#topUps.refuse(msisdn);
  }

  /** Our payment by its clientCorrelator (dialpay's debit id). */
  payment(clientCorrelator: string): SimPayment | undefined {
    return this.#byCorrelator.get(clientCorrelator);
  }

  paymentById(paymentId: string): SimPayment | undefined {
    return this.#payments.get(paymentId);
  }

  topUpOf(topUpId: string): SimTopUp | undefined {
    return this.#topUps.get(topUpId);
  }

  async start(): Promise<string> {
    this.#server = await listenJson((req, res) => this.#handle(req, res), this.#o.host ?? '127.0.0.1', this.#o.port ?? 0);
    return this.url;
  }

  async stop(): Promise<void> {
    await closeServer(this.#server);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    let text = '';
    try {
      text = await readText(req);
    } catch {
      return this.#send(req, url, text, res, problem(400, 'INVALID_ARGUMENT', 'Request body too large.'));
    }
    const reply = await this.#route(req, url, text);
    if (reply === null) return; // hung: never answer, the caller times out
    this.#send(req, url, text, res, reply);
  }

  #send(req: IncomingMessage, url: URL, requestText: string, res: ServerResponse, reply: Reply): void {
    const headers: Record<string, string> = {};
    const xc = req.headers['x-correlator'];
    if (typeof xc === 'string' && X_CORRELATOR.test(xc)) headers['x-correlator'] = xc;
    let responseText = '';
    if (reply.body !== undefined) {
      responseText = stringifyWithDecimals(reply.body);
      headers['content-type'] = 'application/json';
    }
    Object.assign(headers, reply.headers);
    if (this.#o.record) {
      this.exchanges.push({
        method: req.method ?? '', path: url.pathname, query: url.search, requestHeaders: { ...req.headers }, requestText,
        status: reply.status, responseHeaders: headers, responseText,
      });
    }
    if (res.destroyed) return;
    res.writeHead(reply.status, headers).end(responseText || undefined);
  }

  async #route(req: IncomingMessage, url: URL, text: string): Promise<Reply | null> {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    if (path === TOKEN_PATH) return method === 'POST' ? this.#token(req, text) : new Reply(405, { error: 'invalid_request' });
    if (this.#o.topUp && path.startsWith(`${this.#o.topUp.path}/topups`)) {
      return this.#topUps.route(req, method, path.slice(this.#o.topUp.path.length), text);
    }
    const xc = req.headers['x-correlator'];
    if (xc !== undefined && (typeof xc !== 'string' || !X_CORRELATOR.test(xc))) {
      return problem(400, 'INVALID_ARGUMENT', 'Invalid x-correlator header.');
    }
    if (!this.#authorised(req)) {
      return problem(401, 'UNAUTHENTICATED',
        'Request not authenticated due to missing, invalid, or expired credentials. A new authentication is required.');
    }
    if (this.#failures.count > 0 && (path.startsWith(CARRIER_BILLING_BASE) || path.startsWith(CARRIER_BILLING_REFUND_BASE))) {
      this.#failures.count--;
      const status = this.#failures.status;
      return status === 429
        ? problem(429, 'TOO_MANY_REQUESTS', 'Rate limit reached.')
        : problem(status, 'UNAVAILABLE', 'Service unavailable.');
    }
    const p = path.split('/').filter(Boolean);
    if (path.startsWith(`${CARRIER_BILLING_BASE}/payments`)) {
      const [, , , id, action] = p; // carrier-billing v0.5 payments {id} {action}
      if (!id && method === 'GET' && this.#listFailures > 0) {
        this.#listFailures--;
        return problem(503, 'UNAVAILABLE', 'Service unavailable.');
      }
      if (!id) return method === 'GET' ? this.#list(url) : problem(405, 'METHOD_NOT_ALLOWED', 'Method not allowed.');
      if (id === 'prepare' && !action && method === 'POST') return this.#prepare(text);
      const payment = this.#payments.get(decodeURIComponent(id));
      if (!action && method === 'GET') return payment ? new Reply(200, view(payment)) : notFound();
      if ((action === 'confirm' || action === 'cancel') && method === 'POST') return this.#secondStep(payment, action, text);
      return problem(404, 'NOT_FOUND', 'The specified resource is not found.');
    }
    if (path.startsWith(`${CARRIER_BILLING_REFUND_BASE}/payments/`) && p[4] === 'refunds') {
      const payment = this.#payments.get(decodeURIComponent(p[3] ?? ''));
      if (!payment) return notFound();
      if (!p[5]) {
        return method === 'POST' ? this.#refund(payment, text)
          : method === 'GET' ? new Reply(200, [...payment.refunds.values()].map((r) => refundView(payment, r)))
            : problem(405, 'METHOD_NOT_ALLOWED', 'Method not allowed.');
      }
      if (method !== 'GET') return problem(405, 'METHOD_NOT_ALLOWED', 'Method not allowed.');
      if (p[5] === 'remaining-amount') {
        return new Reply(200, {
          amount: new JsonDecimal(minorToDecimal(remaining(payment), payment.currency)), currency: payment.currency,
          description: 'Amount not refunded so far',
        });
      }
      const refund = [...payment.refunds.values()].find((r) => r.refundId === decodeURIComponent(p[5] ?? ''));
      return refund ? new Reply(200, refundView(payment, refund)) : notFound();
    }
    return problem(404, 'NOT_FOUND', 'The specified resource is not found.');
  }

  #token(req: IncomingMessage, text: string): Reply {
    const form = new URLSearchParams(text);
    if (form.get('grant_type') !== 'client_credentials') return new Reply(400, { error: 'unsupported_grant_type' });
    if (this.#o.clientId) {
      const [id, secret] = basicCredentials(req.headers.authorization);
      if (!equal(id, this.#o.clientId) || !equal(secret, this.#o.clientSecret ?? '')) return new Reply(401, { error: 'invalid_client' });
    }
    const token = randomBytes(24).toString('base64url');
    this.tokensIssued++;
    const lifetimeS = this.#o.tokenLifetimeSeconds ?? 3_600;
    this.#tokens.set(token, Date.now() + lifetimeS * 1_000);
    if (this.#tokens.size > 10_000) this.#tokens.delete(this.#tokens.keys().next().value as string);
    return new Reply(200, { access_token: token, token_type: 'Bearer', expires_in: lifetimeS });
  }

  #authorised(req: IncomingMessage): boolean {
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Bearer ')) return false;
    const expiresAt = this.#tokens.get(auth.slice('Bearer '.length));
    return expiresAt !== undefined && expiresAt > Date.now();
  }

  async #prepare(text: string): Promise<Reply | null> {
    const body = parse(text);
    const t = body?.amountTransaction as Record<string, any> | undefined;
    const charging = t?.paymentAmount?.chargingInformation as Record<string, unknown> | undefined;
    const currency = String(charging?.currency ?? '');
    const amountText = String(charging?.amount ?? '');
    const amountMinor = CURRENCY_DECIMALS[currency] === undefined ? null : decimalToMinor(amountText, currency);
    if (!t || !charging || typeof t.referenceCode !== 'string' || typeof charging.description !== 'string'
      || amountMinor === null || amountMinor <= 0n) {
      return problem(400, 'INVALID_ARGUMENT', 'Client specified an invalid argument, request body or query param.');
    }
    if (t.phoneNumber === undefined) return problem(422, 'MISSING_IDENTIFIER', 'The phone number cannot be identified.');
    if (typeof t.phoneNumber !== 'string' || !E164.test(t.phoneNumber)) {
      return problem(400, 'INVALID_ARGUMENT', 'Client specified an invalid argument, request body or query param.');
    }
    const msisdn = t.phoneNumber.slice(1);
    if (this.#hanging.has(msisdn)) return null;
    const clientCorrelator = typeof t.clientCorrelator === 'string' ? t.clientCorrelator : '';
    const fingerprint = JSON.stringify([msisdn, t.referenceCode, currency, amountMinor.toString(), charging.description]);
    const existing = clientCorrelator ? this.#byCorrelator.get(clientCorrelator) : undefined;
    if (existing) {
      if (existing.fingerprint === fingerprint) return this.#late(msisdn, new Reply(201, view(existing)));
      return existing.status === 'reserved'
        ? problem(400, 'INVALID_ARGUMENT', 'clientCorrelator already exist on server.')
        : problem(409, 'ALREADY_EXISTS', 'The resource that a client tried to create already exists.');
    }
    if (this.#byReference.has(t.referenceCode)) return problem(409, 'ALREADY_EXISTS', 'Another payment has this referenceCode.');
    const paymentId = `pay-${(++this.#sequence).toString(36)}-${randomUUID().slice(0, 8)}`;
    const result = await this.carrier.reserve({ debitId: paymentId, msisdn, currency, amountMinor, description: charging.description });
    if (result.outcome === 'insufficient-funds') return problem(403, 'CARRIER_BILLING.PAYMENT_DENIED', 'Payment denied by business.');
    if (result.outcome === 'rejected') {
      return problem(422, 'SERVICE_NOT_APPLICABLE', 'The service is not available for the provided identifier.');
    }
    if (result.outcome === 'account-not-found') return problem(404, 'IDENTIFIER_NOT_FOUND', 'phoneNumber not found.');
    if (result.outcome !== 'ok') return problem(503, 'UNAVAILABLE', 'Service unavailable.');
    const payment: SimPayment = {
      paymentId, clientCorrelator, referenceCode: t.referenceCode, msisdn, currency, amountMinor, description: charging.description,
      createdAt: new Date(), fingerprint, status: 'reserved', refunds: new Map(),
    };
    this.#payments.set(paymentId, payment);
    if (clientCorrelator) this.#byCorrelator.set(clientCorrelator, payment);
    this.#byReference.set(payment.referenceCode, payment);
    this.#order.push(payment);
    return this.#late(msisdn, new Reply(201, view(payment)));
  }

  async #secondStep(payment: SimPayment | undefined, action: 'confirm' | 'cancel', text: string): Promise<Reply | null> {
    const body = parse(text);
    if (!body) return problem(400, 'INVALID_ARGUMENT', 'Client specified an invalid argument, request body or query param.');
    if (body.phoneNumber !== undefined && (typeof body.phoneNumber !== 'string' || !E164.test(body.phoneNumber))) {
      return problem(400, 'INVALID_ARGUMENT', 'Client specified an invalid argument, request body or query param.');
    }
    if (!payment) return notFound();
    if (body.phoneNumber === undefined) return problem(422, 'MISSING_IDENTIFIER', 'The phone number cannot be identified.');
    if (body.phoneNumber !== `+${payment.msisdn}`) return problem(404, 'IDENTIFIER_NOT_FOUND', 'phoneNumber not found.');
    if (this.#hanging.has(payment.msisdn)) return null;
    if (payment.status === 'succeeded') return problem(409, 'CARRIER_BILLING.PAYMENT_CONFIRMED', 'Payment has been confirmed.');
    if (payment.status === 'cancelled') return problem(409, 'CARRIER_BILLING.PAYMENT_CANCELLED', 'Payment has been cancelled.');
    if (payment.status === 'denied') return problem(403, 'CARRIER_BILLING.PAYMENT_DENIED', 'Payment denied by business.');
    if (action === 'cancel' && this.#cancelRefused.has(payment.msisdn)) {
      return problem(403, 'PERMISSION_DENIED', 'Client does not have sufficient permissions to perform this action.');
    }
    if (action === 'confirm') {
      const result = await this.carrier.capture(payment.paymentId, payment.amountMinor);
      if (result.outcome !== 'ok') return problem(503, 'UNAVAILABLE', 'Service unavailable.');
      payment.status = 'succeeded';
      payment.paymentDate = new Date();
    } else {
      const result = await this.carrier.release(payment.paymentId);
      if (result.outcome !== 'ok') return problem(503, 'UNAVAILABLE', 'Service unavailable.');
      payment.status = 'cancelled';
    }
    return this.#late(payment.msisdn, new Reply(202));
  }

  async #refund(payment: SimPayment, text: string): Promise<Reply | null> {
    const body = parse(text);
    const t = body?.amountTransaction as Record<string, any> | undefined;
    const type = body?.type;
    if (!t || (type !== 'total' && type !== 'partial') || typeof t.referenceCode !== 'string' || typeof t.refundAmount !== 'object') {
      return problem(400, 'INVALID_ARGUMENT', 'Client specified an invalid argument, request body or query param.');
    }
    let amountMinor = remaining(payment);
    let description = String(body?.reason ?? 'refund');
    if (type === 'partial') {
      const charging = t.refundAmount?.chargingInformation as Record<string, unknown> | undefined;
      const amount = charging && charging.currency === payment.currency
        ? decimalToMinor(String(charging.amount ?? ''), payment.currency) : null;
      if (!charging || typeof charging.description !== 'string' || amount === null || amount <= 0n) {
        return problem(400, 'INVALID_ARGUMENT', 'Client specified an invalid argument, request body or query param.');
      }
      amountMinor = amount;
      description = charging.description;
    }
    const clientCorrelator = typeof t.clientCorrelator === 'string' ? t.clientCorrelator : '';
    const fingerprint = JSON.stringify([type, t.referenceCode, type === 'partial' ? amountMinor.toString() : 'total', description]);
    const existing = clientCorrelator ? payment.refunds.get(clientCorrelator) : undefined;
    if (existing) {
      return existing.fingerprint === fingerprint && !this.#strictRefunds
        ? this.#late(payment.msisdn, new Reply(201, refundView(payment, existing)))
        : problem(409, 'ALREADY_EXISTS', 'The resource that a client tried to create already exists.');
    }
    if ([...payment.refunds.values()].some((r) => r.referenceCode === t.referenceCode)) {
      return problem(409, 'ALREADY_EXISTS', 'Another refund has this referenceCode.');
    }
    if (payment.status !== 'succeeded') {
      return problem(422, 'CARRIER_BILLING_REFUND.INVALID_PAYMENT_STATUS', 'The payment is not in a status that allows a refund.');
    }
    if (amountMinor <= 0n || amountMinor > remaining(payment)) {
      return problem(422, 'CARRIER_BILLING_REFUND.UNAUTHORIZED_AMOUNT', 'Unauthorized amount requested.');
    }
    const refundId = `ref-${(++this.#sequence).toString(36)}-${randomUUID().slice(0, 8)}`;
    const result = await this.carrier.refund(refundId, payment.paymentId, amountMinor);
    if (result.outcome !== 'ok') return problem(503, 'UNAVAILABLE', 'Service unavailable.');
    const refund: SimRefund = {
      refundId, clientCorrelator, referenceCode: t.referenceCode, type, amountMinor, description,
      ...(typeof body?.reason === 'string' ? { reason: body.reason } : {}), createdAt: new Date(), fingerprint,
    };
    payment.refunds.set(clientCorrelator || refundId, refund);
    return this.#late(payment.msisdn, new Reply(201, refundView(payment, refund)));
  }

  #list(url: URL): Reply {
    const q = url.searchParams;
    const page = Number(q.get('page') ?? '1');
    const perPage = Number(q.get('perPage') ?? '10');
    if (!Number.isInteger(page) || page < 1 || !Number.isInteger(perPage) || perPage < 1 || perPage > PER_PAGE_MAX) {
      return problem(400, 'OUT_OF_RANGE', 'Client specified an invalid range.');
    }
    const gte = q.get('paymentCreationDate.gte');
    const lte = q.get('paymentCreationDate.lte');
    const from = gte ? Date.parse(gte) : -Infinity;
    const to = lte ? Date.parse(lte) : Infinity;
    if (Number.isNaN(from) || Number.isNaN(to)) {
      return problem(400, 'INVALID_ARGUMENT', 'Client specified an invalid argument, request body or query param.');
    }
    if (from > to) return problem(400, 'CARRIER_BILLING.INVALID_DATE_RANGE', 'Client specified an invalid date range.');
    const statuses = q.getAll('paymentStatus').flatMap((s) => s.split(','));
    const asc = q.get('order') === 'asc';
    const matches: SimPayment[] = [];
    const n = this.#order.length;
    for (let i = 0; i < n; i++) {
      const payment = this.#order[asc ? i : n - 1 - i] as SimPayment;
      const at = payment.createdAt.getTime();
      if (at < from || at > to) continue;
      if (statuses.length && !statuses.includes(payment.status)) continue;
      matches.push(payment);
    }
    const slice = matches.slice((page - 1) * perPage, page * perPage);
    return new Reply(200, slice.map(view), {
      'x-total-count': String(matches.length),
      ...(slice.length ? { 'content-last-key': String((page - 1) * perPage + slice.length) } : {}),
    });
  }

  /** Carried out; with answerLate for the number, answered only after the delay. */
  async #late(msisdn: string, reply: Reply): Promise<Reply> {
    const lateMs = this.#slow.get(msisdn);
    if (lateMs) await new Promise((r) => setTimeout(r, lateMs));
    return reply;
  }
}
