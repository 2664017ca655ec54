// The charging API simulator's records and wire shapes (charging-api.ts serves them): payments
// and refunds as the simulated operator keeps them, their CAMARA views, problem replies,
// and the request parsing (JSON with exact decimals, Basic credentials, a bounded body).
import type { IncomingMessage } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { JsonDecimal, minorToDecimal, parseJsonNumbersAsText } from '../runtime/decimal-amount.js';

export type CamaraPaymentStatus = 'reserved' | 'succeeded' | 'cancelled' | 'denied';

export interface SimPayment {
  readonly paymentId: string;
  readonly clientCorrelator: string;
  readonly referenceCode: string;
  readonly msisdn: string;
  readonly currency: string;
  readonly amountMinor: bigint;
  readonly description: string;
  readonly createdAt: Date;
  readonly fingerprint: string;
  status: CamaraPaymentStatus;
  paymentDate?: Date;
  readonly refunds: Map<string, SimRefund>;
}

export interface SimRefund {
  readonly refundId: string;
  readonly clientCorrelator: string;
  readonly referenceCode: string;
  readonly type: 'total' | 'partial';
  readonly amountMinor: bigint;
  readonly description: string;
  readonly reason?: string;
  readonly createdAt: Date;
  readonly fingerprint: string;
}

/** One request and its answer, as they crossed the wire. */
export interface Exchange {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly requestHeaders: Readonly<Record<string, string | string[] | undefined>>;
  readonly requestText: string;
  readonly status: number;
  readonly responseHeaders: Readonly<Record<string, string>>;
  readonly responseText: string;
}

const BODY_BYTES_MAX = 16 * 1024;
export const X_CORRELATOR = /^[a-zA-Z0-9\-_:;./<>{}]{0,256}$/;
export const E164 = /^\+[1-9][0-9]{4,14}$/;
export const PER_PAGE_MAX = 100;

export class Reply {
  constructor(readonly status: number, readonly body?: unknown, readonly headers: Readonly<Record<string, string>> = {}) {}
}

export function problem(status: number, code: string, message: string): Reply {
  return new Reply(status, { status, code, message });
}

export function view(p: SimPayment): Record<string, unknown> {
  return {
    paymentId: p.paymentId,
    paymentStatus: p.status,
    paymentCreationDate: p.createdAt.toISOString(),
    ...(p.paymentDate ? { paymentDate: p.paymentDate.toISOString() } : {}),
    amountTransaction: {
      phoneNumber: `+${p.msisdn}`,
      ...(p.clientCorrelator ? { clientCorrelator: p.clientCorrelator } : {}),
      referenceCode: p.referenceCode,
      paymentAmount: {
        chargingInformation: {
          amount: new JsonDecimal(minorToDecimal(p.amountMinor, p.currency)), currency: p.currency, description: p.description,
        },
      },
      resourceURL: `urn:payments:${p.paymentId}`,
      serverReferenceCode: `sim-${p.paymentId}`,
    },
  };
}

export function refundView(p: SimPayment, r: SimRefund): Record<string, unknown> {
  return {
    refundId: r.refundId,
    refundStatus: 'succeeded',
    type: r.type,
    refundCreationDate: r.createdAt.toISOString(),
    refundDate: r.createdAt.toISOString(),
    ...(r.reason ? { reason: r.reason } : {}),
    amountTransaction: {
      ...(r.clientCorrelator ? { clientCorrelator: r.clientCorrelator } : {}),
      referenceCode: r.referenceCode,
      refundAmount: r.type === 'partial'
        ? {
          chargingInformation: {
            amount: new JsonDecimal(minorToDecimal(r.amountMinor, p.currency)), currency: p.currency, description: r.description,
          },
        }
        : {},
    },
  };
}

export function remaining(p: SimPayment): bigint {
  let left = p.amountMinor;
  for (const r of p.refunds.values()) left -= r.amountMinor;
  return left;
}

export function notFound(): Reply {
  return problem(404, 'NOT_FOUND', 'The specified resource is not found.');
}

export function parse(text: string): Record<string, any> | null {
  try {
    const v = parseJsonNumbersAsText(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, any>) : null;
  } catch {
    return null;
  }
}

export function basicCredentials(header: string | undefined): [string, string] {
  if (!header?.startsWith('Basic ')) return ['', ''];
  const decoded = Buffer.from(header.slice('Basic '.length), 'base64').toString('utf8');
  const at = decoded.indexOf(':');
  if (at < 0) return ['', ''];
  try {
    return [decodeURIComponent(decoded.slice(0, at)), decodeURIComponent(decoded.slice(at + 1))];
  } catch {
    return ['', ''];
  }
}

export function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function readText(req: IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > BODY_BYTES_MAX) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
