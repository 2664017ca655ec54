// Operator-to-operator settlement: each UTC day, the net position of every
// pair of operators per currency, from the inter-operator positions billing
// booked with cross-operator transfers (services/billing/interop.ts).
//
// The day is the UTC calendar day, [00:00Z, 24:00Z), by the time billing
// booked the position (the capture). Not an operator's local window: a pair
// has two operators whose windows may differ, and UTC is the one day both can
// check against. It closes CLOSE_GRACE_MS after it ends, so a capture whose
// transaction began before midnight has committed. Closing stores the lines
// with the day; closing again answers with what was stored.
import { writeFileSync } from 'node:fs';
import type { NatsConnection } from '@nats-io/transport-node';
import { int64ToBigInt, unixMsToProto } from '../../proto/index.js';
import type { Logger } from '../../runtime/log.js';
import { Requests, requestReply } from '../../runtime/nats/index.js';
import type { Pool } from '../../runtime/pg/index.js';
import { LeaseHeldError, type Lease, type Leases } from '../../runtime/pg/lease.js';
import { interopCsv, netPositions, type PairLine } from './interop-arithmetic.js';
import { BILLING_TIMEOUT_MS, CLOSE_GRACE_MS } from './windows.js';

const DAY_MS = 86_400_000;

export interface ClosedInteropDay {
  /** `interop/<YYYY-MM-DD>`. */
  readonly windowId: string;
  readonly date: string;
  readonly fromAt: Date;
  readonly toAt: Date;
  readonly lines: readonly PairLine[];
  /** False when this call found it closed already. */
  readonly closedNow: boolean;
}

export class InteropDayStillOpenError extends Error {
  override readonly name = 'InteropDayStillOpenError';
}

type StoredLine = Record<keyof PairLine, string | number>;

export class InteropSettlement {
  readonly #pool: Pool;
  readonly #nc: NatsConnection;
  readonly #log: Logger;
  readonly #leases: Leases | null;

  /** With `leases`, each day is closed by at most one replica at a time. */
  constructor(options: { pool: Pool; nc: NatsConnection; log: Logger; leases?: Leases }) {
    this.#pool = options.pool;
    this.#nc = options.nc;
    this.#log = options.log;
    this.#leases = options.leases ?? null;
  }

  /**
   * Closes the UTC day `date` (YYYY-MM-DD): asks billing for its positions, nets them per pair, stores the lines.
   * With leases, another closer of the same day (any replica) is waited for up to leaseWaitMs, then LeaseHeldError.
   */
  async close(date: string, options: { leaseWaitMs?: number; onLeaseWait?: () => void } = {}): Promise<ClosedInteropDay> {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`))) {
      throw new Error(`day must be a date like 2026-11-20, not "${date}"`);
    }
    if (!this.#leases) return this.#close(date, null);
    const name = `settlement/${interopWindowId(date)}`;
    const lease = await this.#leases.acquire(name, options.leaseWaitMs ?? 0, options.onLeaseWait);
    if (!lease) throw new LeaseHeldError(name);
    try {
      return await this.#close(date, lease);
    } finally {
      await lease.release();
    }
  }

  async #close(date: string, lease: Lease | null): Promise<ClosedInteropDay> {
    const stored = await this.#stored(date);
    if (stored) return stored;
    if (lease?.contended) lease.tookOver();
    const fromAt = new Date(Date.parse(`${date}T00:00:00Z`));
    const toAt = new Date(fromAt.getTime() + DAY_MS);
    // The database's clock, as for merchant windows.
    const { rows } = await this.#pool.query<{ ended: boolean }>(
      `SELECT $1::timestamptz + ($2::bigint * interval '1 millisecond') <= now() AS ended`, [toAt, CLOSE_GRACE_MS]);
    if (!rows[0]?.ended) {
      throw new InteropDayStillOpenError(
        `interop day ${date} runs until ${toAt.toISOString()} (closable ${CLOSE_GRACE_MS / 60_000} min later)`);
    }
    const reply = await requestReply(this.#nc, Requests.billingInteropPositions,
      { fromUnixMs: unixMsToProto(fromAt), toUnixMs: unixMsToProto(toAt) }, BILLING_TIMEOUT_MS);
    if (!reply.available) throw new Error(`billing could not list the positions of ${date}`);
    const lines = netPositions((reply.totals ?? []).map((t) => ({
      payerOperatorId: t.payerOperatorId ?? '', payeeOperatorId: t.payeeOperatorId ?? '', currency: t.currency ?? '',
      transfers: t.transfers ?? 0, amountMinor: int64ToBigInt(t.amountMinor),
    })));
    lease?.throwIfLost();
    // Two closers at once compute the same lines from the same positions; the first insert wins and both answer with it.
    const inserted = await this.#pool.query(
      `INSERT INTO settlement.interop_days (window_date, from_at, to_at, lines) VALUES ($1::date, $2, $3, $4)
       ON CONFLICT (window_date) DO NOTHING`,
      [date, fromAt, toAt, JSON.stringify(lines.map(toStored))],
    );
    this.#log.info({ day: date, pairs: lines.length }, 'interop settlement day closed');
    const closed = (await this.#stored(date)) as ClosedInteropDay;
    return { ...closed, closedNow: inserted.rowCount === 1 };
  }

  /** Yesterday (UTC), once it has ended; the reports go to `reportsDir` when given. */
  async closeDue(reportsDir: string | undefined): Promise<number> {
    const yesterday = new Date(Date.now() - DAY_MS).toISOString().slice(0, 10);
    if (await this.#stored(yesterday)) return 0;
    try {
      const closed = await this.close(yesterday);
      if (closed.closedNow && reportsDir) writeInteropReports(reportsDir, closed);
      return closed.closedNow ? 1 : 0;
    } catch (err) {
      if (err instanceof LeaseHeldError) this.#log.debug({ day: yesterday }, 'another replica is closing the interop settlement day');
      else if (!(err instanceof InteropDayStillOpenError)) {
        this.#log.warn({ err, day: yesterday }, 'could not close the interop settlement day; will try again');
      }
      return 0;
    }
  }

  async #stored(date: string): Promise<ClosedInteropDay | null> {
    const { rows } = await this.#pool.query<{ from_at: Date; to_at: Date; lines: StoredLine[] }>(
      'SELECT from_at, to_at, lines FROM settlement.interop_days WHERE window_date = $1::date', [date]);
    const row = rows[0];
    if (!row) return null;
    return {
      windowId: interopWindowId(date), date, fromAt: row.from_at, toAt: row.to_at, lines: row.lines.map(fromStored), closedNow: false,
    };
  }
}

export function interopWindowId(date: string): string {
  return `interop/${date}`;
}

/** `<dir>/interop-settlement-<date>.csv` and `.json`; returns the path without its extension. */
export function writeInteropReports(dir: string, closed: ClosedInteropDay): string {
  const base = `${dir}/interop-settlement-${closed.date}`;
  writeFileSync(`${base}.csv`, interopCsv(closed.windowId, closed.lines));
  const json = {
    windowId: closed.windowId, dayBoundary: 'UTC', from: closed.fromAt.toISOString(), to: closed.toAt.toISOString(), pairs: closed.lines,
  };
  writeFileSync(`${base}.json`, `${JSON.stringify(json, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
  return base;
}

function toStored(line: PairLine): StoredLine {
  return Object.fromEntries(Object.entries(line).map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v])) as StoredLine;
}

function fromStored(s: StoredLine): PairLine {
  const n = (v: string | number) => BigInt(v);
  return {
    operatorA: String(s.operatorA), operatorB: String(s.operatorB), currency: String(s.currency),
    transfersAToB: Number(s.transfersAToB), aOwesBMinor: n(s.aOwesBMinor),
    transfersBToA: Number(s.transfersBToA), bOwesAMinor: n(s.bOwesAMinor), netAOwesBMinor: n(s.netAOwesBMinor),
    debtor: String(s.debtor), creditor: String(s.creditor), netMinor: n(s.netMinor),
  };
}
