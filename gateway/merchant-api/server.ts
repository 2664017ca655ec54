// The merchant API, on fastify: key check, per-key rate limit and
// Idempotency-Key at the door, JSON Schema validation, then one NATS
// request to payments, which keeps every rule and every idempotent reply.
// Errors are problem+json; nothing here moves money or opens Postgres.
// The operator API (/v1/operator/..., deposits and agents' floats) shares the listener with its
// own keys (operators[].apiKeys): a merchant's key opens only the merchant
// routes, an operator's only the operator routes.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { NatsConnection } from '@nats-io/transport-node';
import { dialpay, moneyFromProto, moneyToProto, unixMsToProto } from '../../proto/index.js';
import { merchantMandateJson, merchantPaymentJson, merchantPayoutJson, merchantRefundJson, merchantSettlementJson, operatorAgentJson, operatorDepositJson, operatorFloatTopUpJson } from '../../proto/merchant-json.js';
import type { Config, MerchantConfig, OperatorConfig } from '../../runtime/config/index.js';
import type { Logger } from '../../runtime/log.js';
import { Counter, Histogram, LATENCY_BUCKETS_SECONDS, type Registry } from '../../runtime/metrics.js';
import { Requests, requestReply } from '../../runtime/nats/index.js';
import { apiKeyId, verifyApiKey, type StoredApiKey } from '../../runtime/api-keys.js';
import { problem, type Problem, type ProblemType } from './problem.js';
import { RateLimiter } from './rate-limit.js';
import { CaptureBody, ChargeBody, DepositBody, FloatTopUpBody, ListQuery, MandateBody, PaymentRequestBody, PayoutBody, PayoutListQuery, RefundBody } from './schemas.js';
import { creditAnswer, waitForCredit } from './credits.js';
import { openApiDocument } from './openapi.js';
import { AuthFailureLimiter, normalizeRemote } from '../edge-auth/index.js';
import { INVALID_TEXT_DETAIL, invalidTextPointer } from './text.js';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const AUTH_FAILURE_REASONS = ['missing', 'malformed', 'unknown-key', 'wrong-secret', 'blocked'] as const;
type AuthFailureReason = Exclude<(typeof AUTH_FAILURE_REASONS)[number], 'blocked'>;
const { MerchantError } = dialpay.v1;

declare module 'fastify' {
  interface FastifyRequest {
    merchant: MerchantConfig | null;
    /** The caller of an operator route (/v1/operator/...). */
    operator: OperatorConfig | null;
  }
}

/** The operator API's routes: their own keys, their own callers. */
const OPERATOR_PREFIX = '/v1/operator/';

/** A stable hash of a JSON body: the same fields in another order or spacing are the same body. */
export function bodyHash(body: unknown): Buffer {
  const canonical = (value: unknown): unknown =>
    Array.isArray(value) ? value.map(canonical)
      : value && typeof value === 'object' ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]))
        : value;
  return createHash('sha256').update(JSON.stringify(canonical(body))).digest();
}

interface ApiKeyEntry {
  readonly merchant: MerchantConfig;
  readonly stored: StoredApiKey;
}

interface OperatorKeyEntry {
  readonly operator: OperatorConfig;
  readonly stored: StoredApiKey;
}

/** Key id to its operator and stored hash: the operator API's door, apart from the merchants'. Pure. */
export function operatorKeyTable(operators: readonly OperatorConfig[]): ReadonlyMap<string, OperatorKeyEntry> {
  const table = new Map<string, OperatorKeyEntry>();
  for (const operator of operators) for (const stored of operator.apiKeys) table.set(stored.id, { operator, stored });
  return table;
}

/** Key id to its merchant and stored hash. Pure. */
export function apiKeyTable(merchants: readonly MerchantConfig[]): ReadonlyMap<string, ApiKeyEntry> {
  const table = new Map<string, ApiKeyEntry>();
  for (const merchant of merchants) for (const stored of merchant.apiKeys) table.set(stored.id, { merchant, stored });
  return table;
}

/** payments' error code as a problem; null for success. Pure. */
export function problemOf(reply: { error?: dialpay.v1.MerchantError | null; detail?: string | null }): Problem | null {
  const detail = reply.detail ?? undefined;
  switch (reply.error ?? MerchantError.MERCHANT_ERROR_UNSPECIFIED) {
    case MerchantError.MERCHANT_ERROR_UNSPECIFIED: return null;
    case MerchantError.MERCHANT_ERROR_NOT_FOUND: return problem('not-found', detail);
    case MerchantError.MERCHANT_ERROR_INVALID: return problem('validation', detail);
    case MerchantError.MERCHANT_ERROR_IDEMPOTENCY_CONFLICT: return problem('idempotency-conflict', detail);
    case MerchantError.MERCHANT_ERROR_REFUSED: return problem('payment-refused', detail);
    case MerchantError.MERCHANT_ERROR_TOO_MANY_OPEN: return problem('too-many-open-requests', detail);
    case MerchantError.MERCHANT_ERROR_TOO_MANY_UNANSWERED: return problem('too-many-unanswered-requests', detail);
    case MerchantError.MERCHANT_ERROR_FORBIDDEN: return problem('forbidden', detail);
    case MerchantError.MERCHANT_ERROR_LIMIT_EXCEEDED: return problem('limit-exceeded', detail);
    case MerchantError.MERCHANT_ERROR_REFERENCE_CONFLICT: return problem('reference-conflict', detail);
    default: return problem('unavailable', detail);
  }
}

export class MerchantApi {
  readonly app: FastifyInstance;
  readonly #config: Config;
  readonly #nc: NatsConnection;
  /** Replaced whole on reload (one assignment), so a request sees the old table or the new one, never half of each. */
  #keys: ReadonlyMap<string, ApiKeyEntry>;
  #operatorKeys: ReadonlyMap<string, OperatorKeyEntry>;
  readonly #log: Logger;
  readonly #limiter: RateLimiter;
  /** Gateway replicas serving this API now (replicas.ts): each admits its share of a key's limit. */
  readonly #replicas: () => number;
  readonly #authFailures: AuthFailureLimiter;
  readonly #authFailuresTotal: Counter<'reason'>;
  readonly #requests: Counter<'route' | 'status'>;
  readonly #seconds: Histogram<'route'>;

  constructor(options: { config: Config; nc: NatsConnection; log: Logger; registry: Registry; replicas?: () => number }) {
    this.#replicas = options.replicas ?? (() => 1);
    this.#config = options.config;
    this.#nc = options.nc;
    const api = options.config.merchantApi;
    this.#keys = apiKeyTable(options.config.merchants);
    this.#operatorKeys = operatorKeyTable(options.config.operators);
    this.#log = options.log;
    this.#limiter = new RateLimiter(api);
    this.#authFailures = new AuthFailureLimiter({ failuresMax: api.authFailuresMax, windowMs: api.authFailureWindowMs, sourcesMax: api.authFailureSourcesMax });
    this.#authFailuresTotal = new Counter({ name: 'dialpay_merchant_api_auth_failures_total', help: 'Merchant API requests refused for their key: missing, malformed, unknown-key, wrong-secret, or blocked (the source had too many failures).', labelNames: ['reason'], registers: [options.registry] });
    // Every reason from the start at 0, so a rate() over the first failure is not lost.
    for (const reason of AUTH_FAILURE_REASONS) this.#authFailuresTotal.inc({ reason }, 0);
    this.#requests = new Counter({ name: 'dialpay_merchant_api_requests_total', help: 'Merchant API requests by route and HTTP status.', labelNames: ['route', 'status'], registers: [options.registry] });
    this.#seconds = new Histogram({ name: 'dialpay_merchant_api_request_seconds', help: 'Time to answer a merchant API request.', labelNames: ['route'], buckets: LATENCY_BUCKETS_SECONDS, registers: [options.registry] });
    const https = api.tlsCertFile && api.tlsKeyFile ? { cert: readFileSync(api.tlsCertFile), key: readFileSync(api.tlsKeyFile) } : null;
    this.app = Fastify({
      bodyLimit: api.bodyBytesMax,
      logger: false,
      ...(https ? { https } : {}),
      // Behind the Ingress every peer is a proxy pod: request.ip is then the right-most X-Forwarded-For
      // address that is not a trusted proxy, and only from those (proxy-addr, the same rule as clientAddress).
      trustProxy: api.trustedProxies.length > 0 ? [...api.trustedProxies] : false,
      // No type coercion: true, [5000] or "1e3" must not become an amount.
      ajv: { customOptions: { allErrors: true, removeAdditional: false, coerceTypes: false } },
    }) as unknown as FastifyInstance;
    this.app.decorateRequest('merchant', null);
    this.app.decorateRequest('operator', null);
    // JSON only: fastify would otherwise hand a text/plain body to the validator as a string.
    this.app.removeContentTypeParser('text/plain');
    this.#routes(options.log);
  }

  #send(reply: FastifyReply, p: Problem): FastifyReply {
    if (p.status === 401) reply.header('www-authenticate', 'Bearer');
    return reply.code(p.status).type('application/problem+json').send(p);
  }

  #routes(log: Logger): void {
    const app = this.app;
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      this.#requests.inc({ route, status: String(reply.statusCode) });
      this.#seconds.observe({ route }, reply.elapsedTime / 1000);
    });
    app.setNotFoundHandler((_request, reply) => this.#send(reply, problem('not-found')));
    app.setErrorHandler((error: Error & { statusCode?: number; code?: string; validation?: { instancePath: string; message?: string; params?: Record<string, unknown> }[] }, _request, reply) => {
      if (error.validation) {
        const errors = error.validation.map((v) => ({
          pointer: `${v.instancePath || ''}${v.params?.missingProperty ? `/${String(v.params.missingProperty)}` : v.params?.additionalProperty ? `/${String(v.params.additionalProperty)}` : ''}` || '/',
          detail: v.message ?? 'is not valid',
        }));
        return this.#send(reply, problem('validation', 'see errors', errors));
      }
      const byCode: Record<string, ProblemType> = { FST_ERR_CTP_BODY_TOO_LARGE: 'body-too-large', FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported-media-type', FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed-request' };
      const type = byCode[error.code ?? ''] ?? (error.statusCode === 400 ? 'malformed-request' : null);
      if (type) return this.#send(reply, problem(type));
      log.error({ err: error }, 'merchant API handler failed');
      return this.#send(reply, problem('unavailable'));
    });

    app.get('/openapi.json', async () => openApiDocument());

    // Everything under /v1 needs a key, within its rate, and POSTs need an Idempotency-Key.
    app.addHook('onRequest', async (request, reply) => {
      // The matched route, not the raw URL: "/%761/balance" routes to /v1/balance and must be checked too.
      const route = request.routeOptions.url;
      if (route === undefined || !route.startsWith('/v1/')) return;
      let waitMs: number;
      if (route.startsWith(OPERATOR_PREFIX)) {
        const found = this.#authenticate(request, reply, log, this.#operatorKeys, 'operator');
        if (!found) return reply;
        waitMs = this.#limiter.take(found.stored.id, Date.now(), undefined, this.#replicas());
        request.operator = found.operator;
      } else {
        const found = this.#authenticate(request, reply, log, this.#keys, 'merchant');
        if (!found) return reply;
        waitMs = this.#limiter.take(found.stored.id, Date.now(), { perSecond: found.merchant.apiRequestsPerSecondMax, burst: found.merchant.apiRequestsBurstMax }, this.#replicas());
        request.merchant = found.merchant;
      }
      if (waitMs > 0) {
        request.merchant = null;
        request.operator = null;
        reply.header('retry-after', String(Math.ceil(waitMs / 1000)));
        return this.#send(reply, problem('rate-limited'));
      }
      if (request.method === 'POST' && !IDEMPOTENCY_KEY.test(String(request.headers['idempotency-key'] ?? ''))) {
        return this.#send(reply, problem('idempotency-key-required'));
      }
    });

    // Before validation and before payments: a NUL or an unpaired surrogate in the path, the query or
    // the body is a 422 here, not a database error that looks retryable downstream.
    app.addHook('preValidation', async (request, reply) => {
      if (!request.routeOptions.url?.startsWith('/v1/')) return;
      for (const [where, value] of [['path', request.params], ['query', request.query], ['body', request.body]] as const) {
        const pointer = invalidTextPointer(value);
        if (pointer !== null) return this.#send(reply, problem('validation', `the ${where} ${INVALID_TEXT_DETAIL}`, [{ pointer, detail: INVALID_TEXT_DETAIL }]));
      }
    });

    app.post('/v1/payment-requests', { schema: { body: PaymentRequestBody } }, async (request, reply) => {
      const body = request.body as { msisdn: string; amountMinor: number; currency: string; reference?: string; description?: string; expiresInSeconds?: number; capture?: 'automatic' | 'manual' };
      const answer = await this.#ask(request, {
        idempotencyKey: String(request.headers['idempotency-key']), bodySha256: bodyHash(body),
        createPaymentRequest: {
          msisdn: body.msisdn, amount: moneyToProto({ amountMinor: BigInt(body.amountMinor), currency: body.currency }),
          reference: body.reference ?? '', description: body.description ?? '', expiresInSeconds: body.expiresInSeconds ?? 0, manualCapture: body.capture === 'manual',
        },
      });
      if ('problem' in answer) return this.#send(reply, answer.problem);
      return reply.code(201).send(merchantPaymentJson(answer.reply.payment ?? {}));
    });

    app.post('/v1/payments/:id/capture', { schema: { body: CaptureBody } }, async (request, reply) => {
      const body = request.body as { amountMinor: number };
      const paymentId = (request.params as { id: string }).id;
      // The currency is the payment's: payments checks the amount against what was authorized.
      const current = await this.#ask(request, { getPayment: { paymentId } });
      if ('problem' in current) return this.#send(reply, current.problem);
      const answer = await this.#ask(request, {
        idempotencyKey: String(request.headers['idempotency-key']), bodySha256: bodyHash({ paymentId, ...body }),
        capturePayment: { paymentId, amount: moneyToProto({ amountMinor: BigInt(body.amountMinor), currency: moneyFromProto(current.reply.payment?.amount).currency }) },
      });
      if ('problem' in answer) return this.#send(reply, answer.problem);
      return merchantPaymentJson(answer.reply.payment ?? {});
    });

    app.post('/v1/payments/:id/refunds', { schema: { body: RefundBody } }, async (request, reply) => {
      const body = request.body as { amountMinor: number };
      const paymentId = (request.params as { id: string }).id;
      const current = await this.#ask(request, { getPayment: { paymentId } });
      if ('problem' in current) return this.#send(reply, current.problem);
      const answer = await this.#ask(request, {
        idempotencyKey: String(request.headers['idempotency-key']), bodySha256: bodyHash({ refundOf: paymentId, ...body }),
        refundPayment: { paymentId, amount: moneyToProto({ amountMinor: BigInt(body.amountMinor), currency: moneyFromProto(current.reply.payment?.amount).currency }) },
      });
      if ('problem' in answer) return this.#send(reply, answer.problem);
      return reply.code(201).send({ refund: merchantRefundJson(answer.reply.refund ?? {}), payment: merchantPaymentJson(answer.reply.payment ?? {}) });
    });

    app.post('/v1/mandates', { schema: { body: MandateBody } }, async (request, reply) => {
      const body = request.body as { msisdn: string; capMinor: number; currency: string; period: string; reference?: string; description?: string };
      const answer = await this.#ask(request, {
        idempotencyKey: String(request.headers['idempotency-key']), bodySha256: bodyHash({ mandate: body }),
        createMandate: { msisdn: body.msisdn, cap: moneyToProto({ amountMinor: BigInt(body.capMinor), currency: body.currency }), period: body.period, reference: body.reference ?? '', description: body.description ?? '' },
      });
      if ('problem' in answer) return this.#send(reply, answer.problem);
      return reply.code(201).send(merchantMandateJson(answer.reply.mandate ?? {}));
    });

    app.get('/v1/mandates/:id', async (request, reply) => {
      const answer = await this.#ask(request, { getMandate: { mandateId: (request.params as { id: string }).id } });
      if ('problem' in answer) return this.#send(reply, answer.problem);
      return merchantMandateJson(answer.reply.mandate ?? {});
    });

    app.post('/v1/mandates/:id/charges', { schema: { body: ChargeBody } }, async (request, reply) => {
      const body = request.body as { amountMinor: number; reference?: string };
      const mandateId = (request.params as { id: string }).id;
      const current = await this.#ask(request, { getMandate: { mandateId } });
      if ('problem' in current) return this.#send(reply, current.problem);
      const answer = await this.#ask(request, {
        idempotencyKey: String(request.headers['idempotency-key']), bodySha256: bodyHash({ chargeOf: mandateId, ...body }),
        chargeMandate: { mandateId, amount: moneyToProto({ amountMinor: BigInt(body.amountMinor), currency: moneyFromProto(current.reply.mandate?.cap).currency }), reference: body.reference ?? '' },
      });
      if ('problem' in answer) return this.#send(reply, answer.problem);
      return reply.code(201).send(merchantPaymentJson(answer.reply.payment ?? {}));
    });

    // Payouts: money from the merchant's available balance to a subscriber's wallet. The answer waits
    // (merchantApi.creditWaitMs) for billing's: 201 booked, 409 over the balance (nothing moved), 202 not yet.
    app.post('/v1/payouts', { schema: { body: PayoutBody } }, async (request, reply) => {
      const body = request.body as { msisdn: string; amountMinor: number; currency: string; reference?: string };
      const answer = await this.#ask(request, {
        idempotencyKey: String(request.headers['idempotency-key']), bodySha256: bodyHash({ payout: body }),
        createPayout: { msisdn: body.msisdn, amount: moneyToProto({ amountMinor: BigInt(body.amountMinor), currency: body.currency }), reference: body.reference ?? '' },
      });
      if ('problem' in answer) return this.#send(reply, answer.problem);
      const payout = await waitForCredit(answer.reply.payout ?? {}, this.#config.merchantApi.creditWaitMs, async () => {
        const read = await this.#ask(request, { getPayout: { payoutId: answer.reply.payout?.payoutId ?? '' } });
        return 'problem' in read ? null : read.reply.payout ?? null;
      });
      const result = creditAnswer(payout, `/v1/payouts/${payout.payoutId}`);
      if ('problem' in result) return this.#send(reply, result.problem);
      return reply.code(result.status).send(merchantPayoutJson(payout));
    });

    app.get('/v1/payouts/:id', async (request, reply) => {
      const answer = await this.#ask(request, { getPayout: { payoutId: (request.params as { id: string }).id } });
      if ('problem' in answer) return this.#send(reply, answer.problem);
      return merchantPayoutJson(answer.reply.payout ?? {});
    });

    app.get('/v1/payouts', { schema: { querystring: PayoutListQuery } }, async (request, reply) => {
      const q = request.query as { from?: string; to?: string; status?: string; cursor?: string; limit?: string };
      const answer = await this.#ask(request, {
        listPayouts: {
          fromUnixMs: queryUnixMs(q.from), toUnixMs: queryUnixMs(q.to),
          status: q.status ?? '', cursor: q.cursor ?? '', limit: q.limit ? Number(q.limit) : 0,
        },
      });
      if ('problem' in answer) return this.#send(reply, answer.problem);
      return { data: (answer.reply.payouts ?? []).map(merchantPayoutJson), nextCursor: answer.reply.nextCursor || null };
    });

    // The operator API: its own systems credit its subscribers' wallets from its funding account.
    app.post('/v1/operator/deposits', { schema: { body: DepositBody } }, async (request, reply) => {
      const body = request.body as { msisdn: string; amountMinor: number; currency: string; reference?: string };
      const answer = await this.#askOperator(request, {
        idempotencyKey: String(request.headers['idempotency-key']), bodySha256: bodyHash({ deposit: body }),
        createDeposit: { msisdn: body.msisdn, amount: moneyToProto({ amountMinor: BigInt(body.amountMinor), currency: body.currency }), reference: body.reference ?? '' },
      });
      if ('problem' in answer) return this.#send(reply, answer.problem);
      const deposit = await waitForCredit(answer.reply.deposit ?? {}, this.#config.merchantApi.creditWaitMs, async () => {
        const read = await this.#askOperator(request, { getDeposit: { depositId: answer.reply.deposit?.depositId ?? '' } });
        return 'problem' in read ? null : read.reply.deposit ?? null;
      });
      const result = creditAnswer(deposit, `/v1/operator/deposits/${deposit.depositId}`);
      if ('problem' in result) return this.#send(reply, result.problem);
      return reply.code(result.status).send(operatorDepositJson(deposit));
    });

    app.get('/v1/operator/deposits/:id', async (request, reply) => {
      const answer = await this.#askOperator(request, { getDeposit: { depositId: (request.params as { id: string }).id } });
      if ('problem' in answer) return this.#send(reply, answer.problem);
      return operatorDepositJson(answer.reply.deposit ?? {});
    });

    // Agents' floats: the operator's systems top one of its agents' floats up from its funding account,
    // booked at once (201) or refused with nothing booked; the reference books it at most once.
    app.post('/v1/operator/agents/:agentId/float-topups', { schema: { body: FloatTopUpBody } }, async (request, reply) => {
      const agentId = (request.params as { agentId: string }).agentId.toUpperCase();
      const body = request.body as { amountMinor: number; currency: string; reference: string };
      const answer = await this.#askOperator(request, {
        idempotencyKey: String(request.headers['idempotency-key']), bodySha256: bodyHash({ floatTopUp: { agentId, ...body } }),
        topUpAgentFloat: { agentId, amount: moneyToProto({ amountMinor: BigInt(body.amountMinor), currency: body.currency }), reference: body.reference },
      });
      if ('problem' in answer) return this.#send(reply, answer.problem);
      return reply.code(201).send(operatorFloatTopUpJson(answer.reply.floatTopUp ?? {}));
    });

    app.get('/v1/operator/agents/:agentId', async (request, reply) => {
      const answer = await this.#askOperator(request, { getAgent: { agentId: (request.params as { agentId: string }).agentId } });
      if ('problem' in answer) return this.#send(reply, answer.problem);
      return operatorAgentJson(answer.reply.agent ?? {});
    });

    app.get('/v1/settlements', async (request, reply) => {
      if (!request.merchant) return this.#send(reply, problem('unauthorized'));
      let answer: dialpay.v1.IMerchantSettlementsReply;
      try {
        answer = await requestReply(this.#nc, Requests.settlementMerchant, { merchantId: request.merchant.id, limit: 90 }, this.#config.merchantApi.requestTimeoutMs);
      } catch {
        return this.#send(reply, problem('unavailable', 'settlement did not answer in time'));
      }
      if (!answer.available) return this.#send(reply, problem('unavailable'));
      return { data: (answer.settlements ?? []).map(merchantSettlementJson) };
    });

    app.get('/v1/balance', async (request, reply) => {
      if (!request.merchant) return this.#send(reply, problem('unauthorized'));
      let answer: dialpay.v1.IMerchantBalanceReply;
      try {
        answer = await requestReply(this.#nc, Requests.billingMerchantBalance, { merchantId: request.merchant?.id ?? '' }, this.#config.merchantApi.requestTimeoutMs);
      } catch {
        return this.#send(reply, problem('unavailable', 'billing did not answer in time'));
      }
      if (!answer.available) return this.#send(reply, problem('unavailable'));
      return { balances: (answer.balances ?? []).map((b) => ({ currency: moneyFromProto(b).currency, amountMinor: Number(moneyFromProto(b).amountMinor) })) };
    });

    app.get('/v1/payments/:id', async (request, reply) => {
      const answer = await this.#ask(request, { getPayment: { paymentId: (request.params as { id: string }).id } });
      if ('problem' in answer) return this.#send(reply, answer.problem);
      return merchantPaymentJson(answer.reply.payment ?? {});
    });

    app.get('/v1/payments', { schema: { querystring: ListQuery } }, async (request, reply) => {
      const q = request.query as { from?: string; to?: string; status?: string; cursor?: string; limit?: string };
      const answer = await this.#ask(request, {
        listPayments: {
          fromUnixMs: queryUnixMs(q.from), toUnixMs: queryUnixMs(q.to),
          status: q.status ?? '', cursor: q.cursor ?? '', limit: q.limit ? Number(q.limit) : 0,
        },
      });
      if ('problem' in answer) return this.#send(reply, answer.problem);
      return { data: (answer.reply.payments ?? []).map(merchantPaymentJson), nextCursor: answer.reply.nextCursor || null };
    });
  }

  /**
   * The caller's key, or null once the answer (401, or 429 for a failing source past its failed
   * attempts) is sent. A valid key always gets in, whatever its source's failures: the check is
   * cheap (SHA-256 and a constant-time compare), and behind a proxy one attacker must not shut out
   * everyone. Failures are counted by reason and logged with the source address, never the key; the
   * key id only when it is one of ours (an attacker's ids would make the label set unbounded).
   */
  #authenticate<E extends { readonly stored: StoredApiKey }>(request: FastifyRequest, reply: FastifyReply, log: Logger, keys: ReadonlyMap<string, E>, door: 'merchant' | 'operator'): E | null {
    const source = normalizeRemote(request.ip);
    const nowMs = Date.now();
    const header = request.headers.authorization ?? '';
    const key = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    const keyId = apiKeyId(key);
    const found = keys.get(keyId ?? '');
    if (found && verifyApiKey(key, found.stored)) return found;
    const blockedMs = this.#authFailures.blockedForMs(source, nowMs);
    if (blockedMs > 0) {
      // Not logged one by one: a flood would otherwise become a log flood.
      this.#authFailuresTotal.inc({ reason: 'blocked' });
      reply.header('retry-after', String(Math.ceil(blockedMs / 1000)));
      this.#send(reply, problem('too-many-auth-failures'));
      return null;
    }
    const reason: AuthFailureReason = !key ? 'missing' : !keyId ? 'malformed' : !found ? 'unknown-key' : 'wrong-secret';
    this.#authFailuresTotal.inc({ reason });
    const failures = this.#authFailures.recordFailure(source, nowMs);
    const holder = found ? ('merchant' in found ? { merchantId: (found as unknown as ApiKeyEntry).merchant.id } : { operatorId: (found as unknown as OperatorKeyEntry).operator.id }) : {};
    log.warn({ remote: source, reason, door, route: request.routeOptions.url, ...(found ? { keyId: found.stored.id, ...holder } : {}), failures }, `${door} API authentication failed`);
    if (failures === this.#config.merchantApi.authFailuresMax) {
      log.warn({ remote: source, failures, windowMs: this.#config.merchantApi.authFailureWindowMs }, 'merchant API: too many failed authentications from this address; refusing it for the rest of the window');
    }
    this.#send(reply, problem('unauthorized'));
    return null;
  }

  /**
   * Takes the API keys of a re-read config: removed keys stop working and new ones work from the
   * next request. Only keys: a merchant's other settings, and merchants this process did not start
   * with (payments does not know them yet), wait for a restart.
   */
  reloadKeys(merchants: readonly MerchantConfig[], operators?: readonly OperatorConfig[]): void {
    if (operators) this.#reloadOperatorKeys(operators);
    const started = new Map(this.#config.merchants.map((m) => [m.id, m]));
    const notStarted = merchants.filter((m) => !started.has(m.id) && m.apiKeys.length > 0).map((m) => m.id);
    const next = apiKeyTable(merchants.flatMap((m) => {
      const merchant = started.get(m.id);
      return merchant ? [{ ...merchant, apiKeys: m.apiKeys }] : [];
    }));
    const removed = [...this.#keys.keys()].filter((id) => !next.has(id));
    const added = [...next.keys()].filter((id) => !this.#keys.has(id));
    this.#keys = next;
    this.#log.info({ keys: next.size, addedKeyIds: added, removedKeyIds: removed }, 'merchant API keys reloaded');
    if (notStarted.length > 0) this.#log.warn({ merchantIds: notStarted }, 'merchant API: keys of merchants added since start are ignored until a restart');
  }

  /** The operator API's keys likewise: only keys, and only of operators this process started with. */
  #reloadOperatorKeys(operators: readonly OperatorConfig[]): void {
    const started = new Map(this.#config.operators.map((o) => [o.id, o]));
    const next = operatorKeyTable(operators.flatMap((o) => {
      const operator = started.get(o.id);
      return operator ? [{ ...operator, apiKeys: o.apiKeys }] : [];
    }));
    const removed = [...this.#operatorKeys.keys()].filter((id) => !next.has(id));
    const added = [...next.keys()].filter((id) => !this.#operatorKeys.has(id));
    this.#operatorKeys = next;
    this.#log.info({ keys: next.size, addedKeyIds: added, removedKeyIds: removed }, 'operator API keys reloaded');
  }

  /** One call to payments for an operator; the same error codes as the merchant API's. */
  async #askOperator(request: FastifyRequest, command: Omit<dialpay.v1.IOperatorCommandRequest, 'operatorId'>): Promise<{ reply: dialpay.v1.IOperatorCommandReply } | { problem: Problem }> {
    if (!request.operator) return { problem: problem('unauthorized') }; // never ask on nobody's behalf
    let reply: dialpay.v1.IOperatorCommandReply;
    try {
      reply = await requestReply(this.#nc, Requests.paymentsOperator, { ...command, operatorId: request.operator.id }, this.#config.merchantApi.requestTimeoutMs);
    } catch {
      return { problem: problem('unavailable', 'payments did not answer in time; retry with the same Idempotency-Key') };
    }
    const failed = problemOf(reply);
    return failed ? { problem: failed } : { reply };
  }

  /** One call to payments; its error codes become problems. */
  async #ask(request: FastifyRequest, command: Omit<dialpay.v1.IMerchantCommandRequest, 'merchantId'>): Promise<{ reply: dialpay.v1.IMerchantCommandReply } | { problem: Problem }> {
    if (!request.merchant) return { problem: problem('unauthorized') }; // never ask on nobody's behalf
    let reply: dialpay.v1.IMerchantCommandReply;
    try {
      reply = await requestReply(this.#nc, Requests.paymentsMerchant, { ...command, merchantId: request.merchant.id }, this.#config.merchantApi.requestTimeoutMs);
    } catch {
      return { problem: problem('unavailable', 'payments did not answer in time; retry with the same Idempotency-Key') };
    }
    const failed = problemOf(reply);
    return failed ? { problem: failed } : { reply };
  }

  async listen(): Promise<number> {
    const { host, port } = this.#config.merchantApi;
    await this.app.listen({ host, port: port ?? 0 });
    const address = this.app.server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  close(): Promise<void> {
    return this.app.close();
  }
}

/** A list query's from/to (an RFC 3339 instant, checked by the schema) as Unix ms; unset: 0, no bound. */
function queryUnixMs(iso: string | undefined): ReturnType<typeof unixMsToProto> {
  return unixMsToProto(iso ? Date.parse(iso) : 0);
}
