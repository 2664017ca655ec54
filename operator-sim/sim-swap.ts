// The simulated operator's SIM Swap API: CAMARA SIM Swap 2.1.0 (as defined in
// ../shared/camara/sim-swap/code/API_definitions/sim-swap.yaml, served under its
// `servers` path /sim-swap/v2), with the OAuth2 client-credentials token endpoint the
// charging API has (POST /oauth2/token). A server of its own: the charging API is one
// operator product, SIM swap another, and an operator may expose either without the other.
// Behaviour follows the CAMARA Gherkin scenarios (code/Test_definitions/):
//   - every answer carries the request's x-correlator; a malformed one is 400 INVALID_ARGUMENT;
//   - no or an expired/unknown bearer token: 401 UNAUTHENTICATED;
//   - a body that is not a JSON object, a phoneNumber not E.164, a maxAge not an integer:
//     400 INVALID_ARGUMENT; an integer maxAge outside 1..2400, or above the monitored period:
//     400 OUT_OF_RANGE (check_sim_swap_400.2 / 400.3);
//   - no phoneNumber with a two-legged token: 422 MISSING_IDENTIFIER; one with a token that
//     already names a number (`tokenFor`): 422 UNNECESSARY_IDENTIFIER;
//   - a number the operator does not have: 404 IDENTIFIER_NOT_FOUND; one the service is not
//     offered to (`notApplicable`): 422 SERVICE_NOT_APPLICABLE.
// A line's latest SIM change is its latest swap, or its activation (a new subscription counts as
// a swap, per the definition); a line with no SIM has none. With `monitoredPeriodDays`, a change
// older than that is not told (latestSimChange null, with monitoredPeriod).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { closeServer, listenJson } from './json-server.js';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { E164, Reply, X_CORRELATOR, basicCredentials, equal, problem, readText, type Exchange } from './charging-api-wire.js';
import { TOKEN_PATH } from './charging-api.js';

export interface SimSwapApiOptions {
  readonly host?: string;
  readonly port?: number;
  /** The OAuth2 client allowed to ask for tokens; without an id any client is given one. */
  readonly clientId?: string;
  readonly clientSecret?: string;
  readonly tokenLifetimeSeconds?: number;
  /** How far back the operator may tell SIM changes (local regulation); unlimited when absent. */
  readonly monitoredPeriodDays?: number;
  /** Keep every exchange in `exchanges` (the contract test). */
  readonly record?: boolean;
  /** A line never added counts as the operator's, its SIM activated then (`dialpay dev`: every demo phone); absent: 404. */
  readonly unknownLinesActivatedAt?: Date;
}

/**
 * Where `dialpay operator-sim swap` tells a running simulator that a line's SIM was swapped:
 * POST {"phoneNumber": "+E164", "at": ISO time (default now)}. Loopback callers only; not CAMARA.
 */
export const SIM_SWAP_ADMIN_PATH = '/sim-admin/swaps';

export const SIM_SWAP_BASE = '/sim-swap/v2';
/** maxAge bounds and default, in hours (CreateCheckSimSwap). */
export const SIM_SWAP_MAX_AGE_HOURS = { min: 1, max: 2_400, default: 240 } as const;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const TOKENS_MAX = 10_000;
/** Lines the simulator remembers; the oldest are forgotten past this (it runs for days under `make run`). */
const LINES_MAX = 100_000;

interface Line {
  readonly activatedAt: Date | null;
  swappedAt: Date | null;
}

interface Token {
  expiresAt: number;
  /** The number a three-legged token identifies. */
  readonly msisdn?: string;
}

export class SimSwapApiSimulator {
  readonly exchanges: Exchange[] = [];
  readonly #o: SimSwapApiOptions;
  readonly #lines = new Map<string, Line>();
  readonly #notApplicable = new Set<string>();
  readonly #tokens = new Map<string, Token>();
  #server: Server | null = null;

  constructor(options: SimSwapApiOptions = {}) {
    this.#o = options;
  }

  get url(): string {
    return `${this.origin}${SIM_SWAP_BASE}`;
  }

  get origin(): string {
    return `http://127.0.0.1:${(this.#server?.address() as AddressInfo).port}`;
  }

  get tokenUrl(): string {
    return `${this.origin}${TOKEN_PATH}`;
  }

  /** A line (digits, no '+') the operator has, its SIM activated at `activatedAt` (null: no SIM yet). */
  addLine(msisdn: string, activatedAt: Date | null): void {
    this.#remember(msisdn, { activatedAt, swappedAt: null });
  }

  /** The line's SIM is swapped at `at` (a line the operator did not have is activated then). */
  simulateSwap(msisdn: string, at: Date = new Date()): void {
    const line = this.#lines.get(msisdn);
    if (line) line.swappedAt = at;
    else this.#remember(msisdn, { activatedAt: this.#o.unknownLinesActivatedAt ?? at, swappedAt: at });
  }

  #remember(msisdn: string, line: Line): void {
    this.#lines.delete(msisdn);
    this.#lines.set(msisdn, line);
    if (this.#lines.size > LINES_MAX) this.#lines.delete(this.#lines.keys().next().value as string);
  }

  /** The service is not offered to this number (422 SERVICE_NOT_APPLICABLE). */
  notApplicable(msisdn: string): void {
    this.#notApplicable.add(msisdn);
  }

  /** A three-legged token, identifying this number (the request must then not name one). */
  tokenFor(msisdn: string): string {
    return this.#issue(msisdn);
  }

  /** Every token issued so far expires now. */
  expireTokens(): void {
    for (const token of this.#tokens.values()) token.expiresAt = 0;
  }

  /** The latest SIM change of a line: its latest swap, else its activation; null without a SIM or unknown. */
  latestSimChange(msisdn: string): Date | null {
    const line = this.#lines.get(msisdn);
    return line?.swappedAt ?? line?.activatedAt ?? null;
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
    let reply: Reply;
    try {
      text = await readText(req);
      reply = this.#route(req, url.pathname, text);
    } catch {
      reply = problem(400, 'INVALID_ARGUMENT', 'Request body too large.');
    }
    const headers: Record<string, string> = {};
    const xc = req.headers['x-correlator'];
    if (typeof xc === 'string' && X_CORRELATOR.test(xc)) headers['x-correlator'] = xc;
    const responseText = reply.body === undefined ? '' : JSON.stringify(reply.body);
    if (responseText) headers['content-type'] = 'application/json';
    if (this.#o.record) {
      this.exchanges.push({
        method: req.method ?? '', path: url.pathname, query: url.search, requestHeaders: { ...req.headers }, requestText: text,
        status: reply.status, responseHeaders: headers, responseText,
      });
    }
    if (!res.destroyed) res.writeHead(reply.status, headers).end(responseText || undefined);
  }

  #route(req: IncomingMessage, path: string, text: string): Reply {
    const method = req.method ?? 'GET';
    if (path === TOKEN_PATH) return method === 'POST' ? this.#token(req, text) : new Reply(405, { error: 'invalid_request' });
    if (path === SIM_SWAP_ADMIN_PATH) return this.#adminSwap(req, text);
    const operation = method === 'POST' && path.startsWith(`${SIM_SWAP_BASE}/`) ? path.slice(SIM_SWAP_BASE.length) : '';
    if (operation !== '/check' && operation !== '/retrieve-date') {
      return problem(404, 'NOT_FOUND', 'The specified resource is not found.');
    }
    const xc = req.headers['x-correlator'];
    if (xc !== undefined && (typeof xc !== 'string' || !X_CORRELATOR.test(xc))) {
      return problem(400, 'INVALID_ARGUMENT', 'Invalid x-correlator header.');
    }
    const token = this.#bearer(req);
    if (!token) {
      return problem(401, 'UNAUTHENTICATED',
        'Request not authenticated due to missing, invalid, or expired credentials. A new authentication is required.');
    }
    const body = parseObject(text);
    if (!body) return invalidArgument('The request body must be a JSON object.');
    if (body.phoneNumber !== undefined && (typeof body.phoneNumber !== 'string' || !E164.test(body.phoneNumber))) {
      return invalidArgument('phoneNumber must be in E.164 format, prefixed with +.');
    }
    if (operation === '/check') {
      const maxAge = this.#maxAge(body.maxAge);
      if (maxAge instanceof Reply) return maxAge;
      return this.#subject(token, body.phoneNumber as string | undefined, (msisdn) => this.#check(msisdn, maxAge));
    }
    return this.#subject(token, body.phoneNumber as string | undefined, (msisdn) => this.#retrieveDate(msisdn));
  }

  /** maxAge in hours, or the 400 it earns. */
  #maxAge(value: unknown): number | Reply {
    if (value === undefined) return SIM_SWAP_MAX_AGE_HOURS.default;
    if (typeof value !== 'number' || !Number.isInteger(value)) return invalidArgument('maxAge must be an integer number of hours.');
    if (value < SIM_SWAP_MAX_AGE_HOURS.min || value > SIM_SWAP_MAX_AGE_HOURS.max) {
      return problem(400, 'OUT_OF_RANGE', `maxAge must be between ${SIM_SWAP_MAX_AGE_HOURS.min} and ${SIM_SWAP_MAX_AGE_HOURS.max} hours.`);
    }
    const days = this.#o.monitoredPeriodDays;
    if (days !== undefined && value > days * 24) {
      return problem(400, 'OUT_OF_RANGE', `Check monitor period could not exceed local regulations (${days} days).`);
    }
    return value;
  }

  /** The number the request is about, from the token or the body, and the answer about it. */
  #subject(token: Token, phoneNumber: string | undefined, answer: (msisdn: string) => Reply): Reply {
    if (token.msisdn !== undefined && phoneNumber !== undefined) {
      return problem(422, 'UNNECESSARY_IDENTIFIER', 'The device is already identified by the access token.');
    }
    const msisdn = token.msisdn ?? phoneNumber?.slice(1);
    if (msisdn === undefined) return problem(422, 'MISSING_IDENTIFIER', 'The device cannot be identified.');
    if (!this.#lines.has(msisdn) && this.#o.unknownLinesActivatedAt) this.addLine(msisdn, this.#o.unknownLinesActivatedAt);
    if (!this.#lines.has(msisdn)) return problem(404, 'IDENTIFIER_NOT_FOUND', 'Device identifier not found.');
    if (this.#notApplicable.has(msisdn)) {
      return problem(422, 'SERVICE_NOT_APPLICABLE', 'The service is not available for the provided identifier.');
    }
    return answer(msisdn);
  }

  #check(msisdn: string, maxAgeHours: number): Reply {
    const changedAt = this.latestSimChange(msisdn);
    return new Reply(200, { swapped: changedAt !== null && Date.now() - changedAt.getTime() <= maxAgeHours * HOUR_MS });
  }

  #retrieveDate(msisdn: string): Reply {
    const changedAt = this.latestSimChange(msisdn);
    const days = this.#o.monitoredPeriodDays;
    if (changedAt && days !== undefined && Date.now() - changedAt.getTime() > days * DAY_MS) {
      return new Reply(200, { latestSimChange: null, monitoredPeriod: days });
    }
    return new Reply(200, { latestSimChange: changedAt?.toISOString() ?? null });
  }

  /** `dialpay operator-sim swap`: a line's SIM swapped, told by a process on this machine. */
  #adminSwap(req: IncomingMessage, text: string): Reply {
    const from = req.socket.remoteAddress ?? '';
    if (!['127.0.0.1', '::1', '::ffff:127.0.0.1'].includes(from)) return problem(403, 'PERMISSION_DENIED', 'Loopback callers only.');
    if (req.method !== 'POST') return problem(405, 'METHOD_NOT_ALLOWED', 'POST a swap.');
    const body = parseObject(text);
    const phoneNumber = body?.phoneNumber;
    if (typeof phoneNumber !== 'string' || !E164.test(phoneNumber)) {
      return invalidArgument('phoneNumber must be in E.164 format, prefixed with +.');
    }
    const at = body?.at === undefined ? new Date() : new Date(String(body.at));
    if (Number.isNaN(at.getTime()) || at.getTime() > Date.now() + 60_000) {
      return invalidArgument('at must be an ISO time, not in the future.');
    }
    this.simulateSwap(phoneNumber.slice(1), at);
    return new Reply(200, { phoneNumber, swappedAt: at.toISOString() });
  }

  #token(req: IncomingMessage, text: string): Reply {
    const form = new URLSearchParams(text);
    if (form.get('grant_type') !== 'client_credentials') return new Reply(400, { error: 'unsupported_grant_type' });
    if (this.#o.clientId) {
      const [id, secret] = basicCredentials(req.headers.authorization);
      if (!equal(id, this.#o.clientId) || !equal(secret, this.#o.clientSecret ?? '')) return new Reply(401, { error: 'invalid_client' });
    }
    return new Reply(200, { access_token: this.#issue(), token_type: 'Bearer', expires_in: this.#lifetimeS() });
  }

  #lifetimeS(): number {
    return this.#o.tokenLifetimeSeconds ?? 3_600;
  }

  #issue(msisdn?: string): string {
    const token = randomBytes(24).toString('base64url');
    this.#tokens.set(token, { expiresAt: Date.now() + this.#lifetimeS() * 1_000, ...(msisdn === undefined ? {} : { msisdn }) });
    if (this.#tokens.size > TOKENS_MAX) this.#tokens.delete(this.#tokens.keys().next().value as string);
    return token;
  }

  #bearer(req: IncomingMessage): Token | null {
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Bearer ')) return null;
    const token = this.#tokens.get(auth.slice('Bearer '.length));
    return token !== undefined && token.expiresAt > Date.now() ? token : null;
  }
}

function invalidArgument(message: string): Reply {
  return problem(400, 'INVALID_ARGUMENT', message);
}

/** The body as a JSON object (numbers as JSON numbers: maxAge "240" is not 240), or null. */
function parseObject(text: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
