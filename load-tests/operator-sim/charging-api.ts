// The simulated operator's charging API over HTTP, in the GSMA OneAPI /
// CAMARA style: reserve, capture (full or partial), release, a status query,
// and a balance. Every call is idempotent on the client correlator (our debit
// id). Balances and holds live in this process, so billing can crash and
// restart while the carrier remembers. Faults: latency, and "hang" for a
// number (the request is held until the client gives up).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SimulatedCarrier } from '../../services/billing/index.js';

export interface ChargingApiOptions {
  readonly host?: string;
  readonly port?: number;
  readonly openingBalanceMinor: bigint;
  /** Bearer token the caller must present; empty accepts any caller. */
  readonly apiKey?: string;
}

interface Reservation {
  readonly msisdn: string;
  readonly amountMinor: bigint;
  readonly currency: string;
  status: 'RESERVED' | 'CAPTURED' | 'RELEASED';
}

const BODY_BYTES_MAX = 16 * 1024;

export class ChargingApiSimulator {
  readonly carrier: SimulatedCarrier;
  readonly #o: ChargingApiOptions;
  readonly #reservations = new Map<string, Reservation>();
  readonly #hanging = new Set<string>();
  readonly #slow = new Map<string, number>();
  #server: Server | null = null;

  constructor(options: ChargingApiOptions) {
    this.#o = options;
    this.carrier = new SimulatedCarrier({ openingBalanceMinor: options.openingBalanceMinor });
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server?.address() as AddressInfo).port}`;
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

  reservation(correlator: string): Reservation | undefined {
    return this.#reservations.get(correlator);
  }

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      this.#route(req, res).catch(() => send(res, 500, { error: 'INTERNAL' }));
    });
    this.#server = server;
    await new Promise<void>((resolve) => server.listen(this.#o.port ?? 0, this.#o.host ?? '127.0.0.1', () => resolve()));
    return this.url;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server?.close(() => resolve());
      this.#server?.closeAllConnections();
    });
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.#o.apiKey && req.headers.authorization !== `Bearer ${this.#o.apiKey}`) return send(res, 401, { error: 'UNAUTHORIZED' });
    const url = new URL(req.url ?? '/', 'http://sim');
    const parts = url.pathname.split('/').filter(Boolean); // charging v1 reservations {id} {action}
    if (parts[0] !== 'charging' || parts[1] !== 'v1') return send(res, 404, { error: 'NOT_FOUND' });
    if (parts[2] === 'balances' && parts[3] && req.method === 'GET') return send(res, 200, { msisdn: parts[3], balance: this.carrier.balanceOf(parts[3]).toString() });
    if (parts[2] !== 'reservations') return send(res, 404, { error: 'NOT_FOUND' });
    const correlator = parts[3];
    if (req.method === 'POST' && !correlator) {
      const body = await readJson(req);
      const msisdn = String(body.msisdn ?? '');
      if (this.#hanging.has(msisdn)) return; // never answer: the caller times out
      const id = String(body.clientCorrelator ?? '');
      const amountMinor = BigInt(String((body.amount as { value?: string })?.value ?? '0'));
      const currency = String((body.amount as { currency?: string })?.currency ?? '');
      const existing = this.#reservations.get(id);
      if (existing) return send(res, 200, { clientCorrelator: id, status: existing.status });
      const result = await this.carrier.reserve({ debitId: id, msisdn, currency, amountMinor, description: String(body.description ?? '') });
      if (result.outcome === 'insufficient-funds') return send(res, 402, { error: 'INSUFFICIENT_FUNDS' });
      if (result.outcome === 'rejected') return send(res, 403, { error: 'POLICY_REJECTED', detail: result.detail });
      if (result.outcome !== 'ok') return send(res, 503, { error: 'UNAVAILABLE' });
      this.#reservations.set(id, { msisdn, amountMinor, currency, status: 'RESERVED' });
      const lateMs = this.#slow.get(msisdn);
      if (lateMs) await new Promise((r) => setTimeout(r, lateMs));
      return send(res, 201, { clientCorrelator: id, status: 'RESERVED' });
    }
    const reservation = correlator ? this.#reservations.get(correlator) : undefined;
    if (req.method === 'GET' && correlator && !parts[4]) {
      return reservation ? send(res, 200, { clientCorrelator: correlator, status: reservation.status }) : send(res, 404, { error: 'NOT_FOUND' });
    }
    if (req.method === 'POST' && correlator && (parts[4] === 'capture' || parts[4] === 'release')) {
      if (!reservation) return send(res, 404, { error: 'NOT_FOUND' });
      if (this.#hanging.has(reservation.msisdn)) return;
      if (parts[4] === 'capture') {
        const body = await readJson(req);
        const amountMinor = BigInt(String((body.amount as { value?: string })?.value ?? reservation.amountMinor.toString()));
        const result = await this.carrier.capture(correlator, amountMinor);
        if (result.outcome !== 'ok') return send(res, 409, { error: 'INVALID_STATE', detail: result.detail });
        reservation.status = 'CAPTURED';
        return send(res, 200, { clientCorrelator: correlator, status: 'CAPTURED' });
      }
      const result = await this.carrier.release(correlator);
      if (result.outcome !== 'ok') return send(res, 409, { error: 'INVALID_STATE', detail: result.detail });
      reservation.status = 'RELEASED';
      return send(res, 200, { clientCorrelator: correlator, status: 'RELEASED' });
    }
    if (req.method === 'POST' && correlator && parts[4] === 'refunds') {
      if (!reservation) return send(res, 404, { error: 'NOT_FOUND' });
      const body = await readJson(req);
      const refundId = String(body.clientCorrelator ?? '');
      const amountMinor = BigInt(String((body.amount as { value?: string })?.value ?? '0'));
      if (!refundId || amountMinor <= 0n) return send(res, 400, { error: 'INVALID_ARGUMENT' });
      const result = await this.carrier.refund(refundId, correlator, amountMinor);
      if (result.outcome !== 'ok') return send(res, result.outcome === 'unavailable' ? 503 : 409, { error: 'INVALID_STATE', detail: result.detail });
      return send(res, 201, { clientCorrelator: refundId, status: 'REFUNDED' });
    }
    return send(res, 405, { error: 'METHOD_NOT_ALLOWED' });
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > BODY_BYTES_MAX) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
}
