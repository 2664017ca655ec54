// The merchant API, on fastify: key check, per-key rate limit and
// Idempotency-Key at the door, JSON Schema validation, then one NATS
// request to payments, which keeps every rule and every idempotent reply.
// Errors are problem+json; nothing here moves money or opens Postgres.
// The operator API (/v1/operator/..., deposits and agents' floats) shares the listener with its
// own keys (operators[].apiKeys): a merchant's key opens only the merchant
// routes, an operator's only the operator routes.
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { NatsConnection } from '@nats-io/transport-node';
import { dialpay } from '../../proto/index.js';
import type { Config, MerchantConfig, OperatorConfig } from '../../runtime/config/index.js';
import type { Logger } from '../../runtime/log.js';
import { Counter, Histogram, LATENCY_BUCKETS_SECONDS, type Registry } from '../../runtime/metrics.js';
import { Requests, requestReply } from '../../runtime/nats/index.js';
import { apiKeyId, verifyApiKey, type StoredApiKey } from '../../runtime/api-keys.js';
import { problem, type Problem, type ProblemType } from './problem.js';
import { RateLimiter } from './rate-limit.js';
import { openApiDocument } from './openapi.js';
import { AuthFailureLimiter, normalizeRemote } from '../edge-auth/index.js';
import { INVALID_TEXT_DETAIL, invalidTextPointer } from './text.js';
import type { Answer, RouteContext } from './route-context.js';
import { registerPaymentRoutes } from './payment-routes.js';
import { registerMoneyOutRoutes } from './money-out-routes.js';
import { registerOperatorRoutes } from './operator-routes.js';

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

/** An error fastify hands the error handler: a schema violation, a body parser's, or a handler's. */
type FastifyFailure = Error & { statusCode?: number; code?: string; validation?: SchemaViolation[] };
interface SchemaViolation { instancePath: string; message?: string; params?: Record<string, unknown> }

/** Where a violation is: the instance path, down to the property missing or not allowed; '/' for the whole body. */
function violationPointer(v: SchemaViolation): string {
  const property = v.params?.missingProperty || v.params?.additionalProperty;
  return `${v.instancePath || ''}${property ? `/${String(property)}` : ''}` || '/';
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
    this.#authFailures = new AuthFailureLimiter({
      failuresMax: api.authFailuresMax, windowMs: api.authFailureWindowMs, sourcesMax: api.authFailureSourcesMax,
    });
    this.#authFailuresTotal = new Counter({
      name: 'dialpay_merchant_api_auth_failures_total',
      help: 'Merchant API requests refused for their key: missing, malformed, unknown-key, wrong-secret, or blocked (the source had too ' +
        'many failures).',
      labelNames: ['reason'], registers: [options.registry],
    });
    // Every reason from the start at 0, so a rate() over the first failure is not lost.
    for (const reason of AUTH_FAILURE_REASONS) this.#authFailuresTotal.inc({ reason }, 0);
    this.#requests = new Counter({
      name: 'dialpay_merchant_api_requests_total', help: 'Merchant API requests by route and HTTP status.',
      labelNames: ['route', 'status'], registers: [options.registry],
    });
    this.#seconds = new Histogram({
      name: 'dialpay_merchant_api_request_seconds', help: 'Time to answer a merchant API request.',
      labelNames: ['route'], buckets: LATENCY_BUCKETS_SECONDS, registers: [options.registry],
    });
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
    this.#observe(log);
    this.#door(log);
    const context: RouteContext = {
      config: this.#config, nc: this.#nc, send: (reply, p) => this.#send(reply, p),
      ask: (request, command) => this.#ask(request, command), askOperator: (request, command) => this.#askOperator(request, command),
    };
    registerPaymentRoutes(this.app, context);
    registerMoneyOutRoutes(this.app, context);
    registerOperatorRoutes(this.app, context);
  }

  /** Every answer counted and timed by route; validation and parser errors as problems; the rest logged, 503. */
  #observe(log: Logger): void {
    const app = this.app;
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      this.#requests.inc({ route, status: String(reply.statusCode) });
      this.#seconds.observe({ route }, reply.elapsedTime / 1000);
    });
    app.setNotFoundHandler((_request, reply) => this.#send(reply, problem('not-found')));
    app.setErrorHandler((error: FastifyFailure, _request, reply) => {
      if (error.validation) {
        const errors = error.validation.map((v) => ({ pointer: violationPointer(v), detail: v.message ?? 'is not valid' }));
        return this.#send(reply, problem('validation', 'see errors', errors));
      }
      const byCode: Record<string, ProblemType> = {
        FST_ERR_CTP_BODY_TOO_LARGE: 'body-too-large', FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported-media-type',
        FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed-request',
      };
      const type = byCode[error.code ?? ''] ?? (error.statusCode === 400 ? 'malformed-request' : null);
      if (type) return this.#send(reply, problem(type));
      log.error({ err: error }, 'merchant API handler failed');
      return this.#send(reply, problem('unavailable'));
    });

    app.get('/openapi.json', async () => openApiDocument());
  }

  /** Everything under /v1: a key (the merchant's or, under /v1/operator/, the operator's), within its rate, valid text. */
  #door(log: Logger): void {
    const app = this.app;
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
        const rate = { perSecond: found.merchant.apiRequestsPerSecondMax, burst: found.merchant.apiRequestsBurstMax };
        waitMs = this.#limiter.take(found.stored.id, Date.now(), rate, this.#replicas());
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
        if (pointer !== null) {
          const errors = [{ pointer, detail: INVALID_TEXT_DETAIL }];
          return this.#send(reply, problem('validation', `the ${where} ${INVALID_TEXT_DETAIL}`, errors));
        }
      }
    });
  }

  /**
   * The caller's key, or null once the answer (401, or 429 for a failing source past its failed
   * attempts) is sent. A valid key always gets in, whatever its source's failures: the check is
   * cheap (SHA-256 and a constant-time compare), and behind a proxy one attacker must not shut out
   * everyone. Failures are counted by reason and logged with the source address, never the key; the
   * key id only when it is one of ours (an attacker's ids would make the label set unbounded).
   */
  #authenticate<E extends { readonly stored: StoredApiKey }>(
    request: FastifyRequest, reply: FastifyReply, log: Logger, keys: ReadonlyMap<string, E>, door: 'merchant' | 'operator',
  ): E | null {
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
    const holder = !found ? {} : 'merchant' in found
      ? { merchantId: (found as unknown as ApiKeyEntry).merchant.id }
      : { operatorId: (found as unknown as OperatorKeyEntry).operator.id };
    const keyFields = found ? { keyId: found.stored.id, ...holder } : {};
    const route = request.routeOptions.url;
    log.warn({ remote: source, reason, door, route, ...keyFields, failures }, `${door} API authentication failed`);
    if (failures === this.#config.merchantApi.authFailuresMax) {
      log.warn({ remote: source, failures, windowMs: this.#config.merchantApi.authFailureWindowMs },
        'merchant API: too many failed authentications from this address; refusing it for the rest of the window');
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
    if (notStarted.length > 0) {
      this.#log.warn({ merchantIds: notStarted }, 'merchant API: keys of merchants added since start are ignored until a restart');
    }
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
  #askOperator(
    request: FastifyRequest, command: Omit<dialpay.v1.IOperatorCommandRequest, 'operatorId'>,
  ): Promise<Answer<dialpay.v1.IOperatorCommandReply>> {
    if (!request.operator) return Promise.resolve({ problem: problem('unauthorized') }); // never ask on nobody's behalf
    const asked = { ...command, operatorId: request.operator?.id };
    return this.#call(() => requestReply(this.#nc, Requests.paymentsOperator, asked, this.#config.merchantApi.requestTimeoutMs));
  }

  /** One call to payments; its error codes become problems. */
  #ask(
    request: FastifyRequest, command: Omit<dialpay.v1.IMerchantCommandRequest, 'merchantId'>,
  ): Promise<Answer<dialpay.v1.IMerchantCommandReply>> {
    if (!request.merchant) return Promise.resolve({ problem: problem('unauthorized') }); // never ask on nobody's behalf
    const asked = { ...command, merchantId: request.merchant?.id };
    return this.#call(() => requestReply(this.#nc, Requests.paymentsMerchant, asked, this.#config.merchantApi.requestTimeoutMs));
  }

  async #call<R extends { error?: dialpay.v1.MerchantError | null; detail?: string | null }>(
    request: () => Promise<R>,
  ): Promise<Answer<R>> {
    let reply: R;
    try {
      reply = await request();
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
