// The USSD HTTP edge, on the Africa's Talking contract: the aggregator POSTs
// a form (sessionId, serviceCode, phoneNumber, networkCode, text = every
// answer so far joined by "*") and reads back text/plain "CON <screen>" to
// continue or "END <screen>" to close. Each hop goes to the ussd service over
// NATS with a deadline inside the operator's timeout. Every request gets an
// answer: bad input and a late service get a clean END, never a hang or a
// stack trace. Callers are checked first (http-auth.ts): a refused request's
// body is never read and nothing reaches NATS; neither does a request for an
// operator its aggregator does not serve, nor a number that is not the
// resolved operator's.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { NatsConnection } from '@nats-io/transport-node';
import { unixMsToProto } from '../../proto/index.js';
import type { Config, OperatorConfig } from '../../runtime/config/index.js';
import type { Logger } from '../../runtime/log.js';
import { Counter, Histogram, LATENCY_BUCKETS_SECONDS, type Registry } from '../../runtime/metrics.js';
import { numberBelongsTo, toE164 } from '../../runtime/msisdn.js';
import { Requests, requestReply } from '../../runtime/nats/index.js';
import { hopTimeoutMs, unavailableText } from './deadline.js';
import { AuthFailureReasons, operatorAllowed, routeOf, UssdHttpAuth, type AuthVerdict, type UssdCaller } from './http-auth.js';
import { edgeText } from './texts.js';

/** Headers and body must arrive within this; a slow client cannot hold a socket. */
const REQUEST_TIMEOUT_MS = 10_000;
const FIELD_CHARS_MAX = 200;

export interface UssdHttpRequest {
  readonly sessionId: string;
  readonly serviceCode: string;
  readonly phoneNumber: string;
  readonly networkCode: string;
  readonly text: string;
}

/** Reads the form; null when a required field is missing or too long. Pure. */
export function parseUssdForm(body: string): UssdHttpRequest | null {
  const form = new URLSearchParams(body);
  const field = (name: string) => form.get(name) ?? '';
  const request = {
    sessionId: field('sessionId'), serviceCode: field('serviceCode'), phoneNumber: field('phoneNumber'),
    networkCode: field('networkCode'), text: field('text'),
  };
  if (!request.sessionId || !request.serviceCode || !request.phoneNumber) return null;
  if (Object.values(request).some((v) => v.length > FIELD_CHARS_MAX)) return null;
  return request;
}

/** Africa's Talking's end-of-session notification: how the session ended. */
export interface UssdSessionEnd {
  readonly sessionId: string;
  readonly serviceCode: string;
  readonly phoneNumber: string;
  readonly networkCode: string;
  /** Success: it ended on our END. Incomplete or Failed: the subscriber hung up, or the network dropped it. */
  readonly status: 'Success' | 'Incomplete' | 'Failed';
}

/** Parses the form-encoded end-of-session notification; null when it is not one. Pure. */
export function parseUssdSessionEnd(body: string): UssdSessionEnd | null {
  const form = new URLSearchParams(body);
  const field = (name: string) => form.get(name) ?? '';
  const status = field('status');
  if (status !== 'Success' && status !== 'Incomplete' && status !== 'Failed') return null;
  const event = {
    sessionId: field('sessionId'), serviceCode: field('serviceCode'), phoneNumber: field('phoneNumber'),
    networkCode: field('networkCode'), status,
  } as const;
  if (!event.sessionId || !event.serviceCode || !event.phoneNumber) return null;
  if (Object.values(event).some((v) => v.length > FIELD_CHARS_MAX)) return null;
  return event;
}

/** The operator a code belongs to; when operators share a code, the networkCode tells them apart. Pure. */
export function operatorFor(operators: readonly OperatorConfig[], serviceCode: string, networkCode: string): OperatorConfig | null {
  const candidates = operators.filter((o) => o.ussd?.serviceCodes.includes(serviceCode));
  if (candidates.length <= 1) return candidates[0] ?? null;
  return candidates.find((o) => o.ussd?.networkCodes.includes(networkCode)) ?? null;
}

class UssdHttpMetrics {
  readonly requests: Counter<'outcome'>;
  readonly seconds: Histogram;
  readonly authFailures: Counter<'reason'>;

  constructor(registry: Registry) {
    this.requests = new Counter({ name: 'dialpay_ussd_http_requests_total',
      help: 'USSD HTTP requests by outcome (continue, end, malformed, unknown_service, unavailable, session_end: an end-of-session '
        + 'notification, refused: failed authentication, foreign_number: not the operator\'s number).',
      labelNames: ['outcome'], registers: [registry] });
    this.seconds = new Histogram({ name: 'dialpay_ussd_http_request_seconds', help: 'Time to answer a USSD HTTP request.',
      buckets: LATENCY_BUCKETS_SECONDS, registers: [registry] });
    this.authFailures = new Counter({ name: 'dialpay_ussd_http_auth_failures_total',
      help: 'USSD HTTP requests refused, by reason: before their body was read (address, missing_secret, wrong_secret, rate_limited), '
        + 'or after it named an operator the aggregator does not serve (operator).',
      labelNames: ['reason'], registers: [registry] });
  }
}

export class UssdHttpEdge {
  readonly #server: Server;
  readonly #config: Config;
  readonly #nc: NatsConnection;
  readonly #log: Logger;
  readonly #metrics: UssdHttpMetrics;
  readonly #auth: UssdHttpAuth;

  constructor(options: { config: Config; nc: NatsConnection; log: Logger; registry: Registry }) {
    this.#config = options.config;
    this.#nc = options.nc;
    this.#log = options.log;
    this.#metrics = new UssdHttpMetrics(options.registry);
    const http = options.config.ussd.http;
    this.#auth = new UssdHttpAuth(http);
    const handler = (req: IncomingMessage, res: ServerResponse) => this.#handle(req, res);
    this.#server = http.tlsCertFile && http.tlsKeyFile
      ? createHttpsServer({ cert: readFileSync(http.tlsCertFile), key: readFileSync(http.tlsKeyFile) }, handler)
      : createHttpServer(handler);
    this.#server.requestTimeout = REQUEST_TIMEOUT_MS;
    this.#server.headersTimeout = REQUEST_TIMEOUT_MS;
  }

  async listen(): Promise<number> {
    const { host, port } = this.#config.ussd.http;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => resolve());
    });
    const bound = (this.#server.address() as AddressInfo).port;
    this.#log.info({ host, port: bound, tls: Boolean(this.#config.ussd.http.tlsCertFile), secretRequired: this.#auth.requiresSecret,
      allowedAddresses: this.#config.ussd.http.allowedAddresses, aggregatorIds: this.#config.ussd.http.aggregators.map((a) => a.id),
      trustedProxies: this.#config.ussd.http.trustedProxies }, 'USSD HTTP edge listening');
    return bound;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeIdleConnections();
    });
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const startedMs = performance.now();
    const reply = (status: number, body: string, outcome: string) => {
      if (res.headersSent) return;
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end(body);
      this.#metrics.requests.inc({ outcome });
      this.#metrics.seconds.observe((performance.now() - startedMs) / 1000);
    };
    const route = routeOf((req.url ?? '').split('?')[0] ?? '', this.#config.ussd.http.path);
    if (!route) return reply(404, 'END Not found.', 'malformed');
    const verdict = this.#auth.check(req.socket.remoteAddress, req.headers, route.token, Date.now());
    if (!verdict.ok) return this.#refuse(verdict, res, reply);
    const isSessionEnd = route.kind === 'events';
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return reply(405, 'END Use POST.', 'malformed');
    }
    const bytesMax = this.#config.ussd.http.bodyBytesMax;
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > bytesMax) {
        reply(413, 'END Sorry, we could not read this request.', 'malformed');
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => reply(400, 'END Sorry, we could not read this request.', 'malformed'));
    req.on('end', () => {
      if (res.headersSent) return;
      if (isSessionEnd) return this.#sessionEnded(Buffer.concat(chunks).toString('utf8'), verdict, res, reply);
      const form = parseUssdForm(Buffer.concat(chunks).toString('utf8'));
      if (!form) return reply(200, 'END Sorry, we could not read this request.', 'malformed');
      const operator = operatorFor(this.#config.operators, form.serviceCode, form.networkCode);
      if (!operator?.ussd) return reply(200, 'END Unknown service code.', 'unknown_service');
      if (!operatorAllowed(verdict, operator.id)) return this.#refuseOperator(verdict, operator.id, res, reply);
      const msisdn = toE164(form.phoneNumber, operator.countryCallingCode);
      if (!msisdn) return reply(200, 'END Sorry, we could not read this request.', 'malformed');
      if (!numberBelongsTo(operator, msisdn, this.#config.operators)) {
        this.#log.warn({ operatorId: operator.id, msisdn, networkCode: form.networkCode },
          'USSD request for a number that is not the operator\'s; refused');
        return reply(200, `END ${edgeText('foreignNumber', operator.defaultLanguage)}`, 'foreign_number');
      }
      const deadlineMs = Date.now() + hopTimeoutMs(operator.ussd.operatorTimeoutMs);
      requestReply(this.#nc, Requests.ussdHop, {
        sessionId: `http:${form.sessionId}`, operatorId: operator.id, msisdn, serviceCode: form.serviceCode, text: form.text,
        inputOnly: false, begins: form.text === '', deadlineUnixMs: unixMsToProto(deadlineMs),
      }, Math.max(1, deadlineMs - Date.now()))
        .then((screen) => reply(200, `${screen.end ? 'END' : 'CON'} ${screen.text ?? ''}`, screen.end ? 'end' : 'continue'))
        .catch((err: unknown) => {
          this.#log.warn({ err, operatorId: operator.id }, 'USSD hop unanswered');
          reply(200, `END ${unavailableText(operator.defaultLanguage)}`, 'unavailable');
        });
    });
  }

  /**
   * A caller that failed authentication: 401/403 (429 past its failure limit), the connection closed
   * so its unread body goes with it. Logged with its address and reason only, never what it sent;
   * not logged once it is over its limit, so a flood cannot flood the log.
   */
  #refuse(
    verdict: Exclude<AuthVerdict, { ok: true }>, res: ServerResponse, reply: (status: number, body: string, outcome: string) => void,
  ): void {
    this.#metrics.authFailures.inc({ reason: verdict.reason });
    res.setHeader('connection', 'close');
    if (verdict.status === 401) res.setHeader('www-authenticate', 'Basic realm="dialpay-ussd", charset="UTF-8"');
    if (verdict.status === 429) res.setHeader('retry-after', String(Math.ceil(verdict.retryAfterMs / 1000)));
    else this.#log.warn({ source: verdict.source, reason: verdict.reason, failures: verdict.failures }, 'USSD HTTP request refused');
    const body = verdict.status === 403 ? 'Forbidden.' : verdict.status === 401 ? 'Unauthorized.' : 'Too many failed attempts.';
    reply(verdict.status, body, 'refused');
  }

  /**
   * An authenticated aggregator asking for an operator it does not serve: 403, nothing forwarded.
   * Not counted toward its source's failure limit (its secret was right); logged, without the
   * secret, as it is either a misconfiguration or an aggregator acting for another's subscribers.
   */
  #refuseOperator(
    caller: UssdCaller, operatorId: string, res: ServerResponse, reply: (status: number, body: string, outcome: string) => void,
  ): void {
    this.#metrics.authFailures.inc({ reason: AuthFailureReasons.operator });
    this.#log.warn({ source: caller.source, aggregatorId: caller.aggregatorId, operatorId, reason: AuthFailureReasons.operator },
      'USSD HTTP request refused: the aggregator does not serve this operator');
    res.setHeader('connection', 'close');
    reply(403, 'Forbidden.', 'refused');
  }

  /**
   * The aggregator says a session ended. Ended on our END: nothing to do. Otherwise the subscriber
   * hung up: the ussd service is told, so a payment left at the confirmation screen lets go of its
   * hold now instead of at its expiry. Always a plain 200: the aggregator does not retry these.
   */
  #sessionEnded(
    body: string, caller: UssdCaller, res: ServerResponse, reply: (status: number, body: string, outcome: string) => void,
  ): void {
    const event = parseUssdSessionEnd(body);
    if (!event) return reply(400, 'Not a session notification.', 'malformed');
    const operator = operatorFor(this.#config.operators, event.serviceCode, event.networkCode);
    if (operator && !operatorAllowed(caller, operator.id)) return this.#refuseOperator(caller, operator.id, res, reply);
    const msisdn = operator ? toE164(event.phoneNumber, operator.countryCallingCode) : null;
    if (event.status === 'Success' || !operator?.ussd || !msisdn) return reply(200, 'OK', 'session_end');
    // A release names a session by id; for another operator's number it is nobody's to release here.
    if (!numberBelongsTo(operator, msisdn, this.#config.operators)) return reply(200, 'OK', 'foreign_number');
    const deadlineMs = Date.now() + hopTimeoutMs(operator.ussd.operatorTimeoutMs);
    requestReply(this.#nc, Requests.ussdHop, {
      sessionId: `http:${event.sessionId}`, operatorId: operator.id, msisdn, serviceCode: event.serviceCode, text: '',
      inputOnly: false, released: true, deadlineUnixMs: unixMsToProto(deadlineMs),
    }, Math.max(1, deadlineMs - Date.now()))
      .catch((err: unknown) => this.#log.warn({ err, operatorId: operator.id },
        'could not tell the ussd service a session was released; its payment expires instead'))
      .finally(() => reply(200, 'OK', 'session_end'));
  }
}
