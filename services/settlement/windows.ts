// Settlement windows: close one (read the ledger's movements, do the pure
// arithmetic, have billing book it, keep the batch, tell the merchants), list
// a merchant's lines, and close whatever is due. Closing is idempotent: a
// closed window answers with the batch it stored.
import { writeFileSync } from 'node:fs';
import type { NatsConnection } from '@nats-io/transport-node';
import { dialpay, int64ToBigInt, moneyToProto, unixMsToProto } from '../../proto/index.js';
import type { Config, OperatorConfig } from '../../runtime/config/index.js';
import type { Logger } from '../../runtime/log.js';
import { Events, Requests, requestReply } from '../../runtime/nats/index.js';
import { emitEvent, withTransaction, type OutboxWriter, type Pool } from '../../runtime/pg/index.js';
import { LeaseHeldError, type Lease, type Leases } from '../../runtime/pg/lease.js';
import { batchCsv, operatorCsv, settle, type Batch, type Movement } from './arithmetic.js';

const SCHEMA = 'settlement';
const OUTBOX: OutboxWriter = { schema: SCHEMA, producer: 'settlement' };
/** A page of movements per request to billing; a window is read in as many pages as it needs. */
const MOVEMENTS_PAGE = 5_000;
/** Pages per window: 2,000 x 5,000 = ten million movements before we stop and say so. */
const MOVEMENT_PAGES_MAX = 2_000;
export const BILLING_TIMEOUT_MS = 30_000;
/**
 * A window closes this long after it ends: longer than any transaction that could still commit into
 * it (statement timeouts are seconds).
 */
export const CLOSE_GRACE_MS = 5 * 60_000;

export interface ClosedWindow {
  readonly windowId: string;
  readonly operatorId: string;
  readonly fromAt: Date;
  readonly toAt: Date;
  readonly batch: Batch;
  /** What billing moved to settled per merchant (the net less any carried debt, never below zero). */
  readonly paidOutMinor: Readonly<Record<string, bigint>>;
  /**
   * What billing moved from the operator's airtime account to its settled account (the window's
   * airtime net, plus any earlier airtime no window had settled).
   */
  readonly airtimeSettledMinor: bigint;
  /** False when this call found it closed already. */
  readonly closedNow: boolean;
}

interface WindowRow {
  window_id: string;
  operator_id: string;
  from_at: Date;
  to_at: Date;
  currency: string;
  state: 'open' | 'closed' | 'settled';
  batch: StoredBatch | null;
}

type StoredBatch = {
  merchants: Record<string, string | number>[]; operator: Record<string, string>; paidOut?: Record<string, string>; airtimeSettled?: string;
};

export class WindowStillOpenError extends Error {
  override readonly name = 'WindowStillOpenError';
}

export function windowId(operatorId: string, date: string): string {
  return `${operatorId}/${date}`;
}

/** The lease (runtime/pg/lease.ts) one closer of a window holds. */
export function leaseOf(windowIdValue: string): string {
  return `settlement/${windowIdValue}`;
}

export class SettlementService {
  readonly #pool: Pool;
  readonly #nc: NatsConnection;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #leases: Leases | null;

  /** With `leases`, each window is closed by at most one replica at a time (leaseOf). */
  constructor(options: { pool: Pool; nc: NatsConnection; config: Config; log: Logger; leases?: Leases }) {
    this.#pool = options.pool;
    this.#nc = options.nc;
    this.#config = options.config;
    this.#log = options.log;
    this.#leases = options.leases ?? null;
  }

  /**
   * Closes the operator's window for `date` (YYYY-MM-DD, the operator's local day). No
   * transaction is held while billing works: the window is created and checked, then its
   * movements read and booked (booking is idempotent), then it is marked closed with its batch.
   * With leases, one closer at a time per window across replicas (a second waits up to
   * leaseWaitMs, then LeaseHeldError); without, or after a lost lease, two closers both book the
   * same transfers once (billing is idempotent on the window) and the first to mark it wins.
   */
  async close(operatorId: string, date: string, options: { leaseWaitMs?: number; onLeaseWait?: () => void } = {}): Promise<ClosedWindow> {
    const operator = this.#config.operators.find((o) => o.id === operatorId);
    if (!operator) throw new Error(`no operator ${operatorId}`);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new Error(`window must be a date like 2026-11-20, not "${date}"`);
    const id = windowId(operatorId, date);
    if (!this.#leases) return this.#close(operator, date, id, null);
    // One closer at a time, on any replica: the others wait (the CLI) or try at the next sweep.
    const lease = await this.#leases.acquire(leaseOf(id), options.leaseWaitMs ?? 0, options.onLeaseWait);
    if (!lease) throw new LeaseHeldError(leaseOf(id));
    try {
      return await this.#close(operator, date, id, lease);
    } finally {
      await lease.release();
    }
  }

  async #close(operator: OperatorConfig, date: string, id: string, lease: Lease | null): Promise<ClosedWindow> {
    const operatorId = operator.id;
    await this.#pool.query(
      `INSERT INTO settlement.windows (window_id, operator_id, window_date, from_at, to_at, currency, state)
       VALUES ($1, $2, $3::date, ($3::date + $4::time) AT TIME ZONE $5, ($3::date + 1 + $4::time) AT TIME ZONE $5, $6, 'open')
       ON CONFLICT (window_id) DO NOTHING`,
      [id, operatorId, date, operator.settlement.cutoffLocalTime, operator.settlement.timeZone, operator.currency],
    );
    // The database's clock, with a grace: a payment whose transaction began before the end commits a little after it.
    const { rows } = await this.#pool.query<WindowRow & { ended: boolean }>(
      `SELECT *, to_at + ($2::bigint * interval '1 millisecond') <= now() AS ended
       FROM settlement.windows WHERE window_id = $1`, [id, CLOSE_GRACE_MS],
    );
    const window = rows[0] as WindowRow & { ended: boolean };
    if (window.state !== 'open' && window.batch) return closedFrom(window, false);
    if (!window.ended) {
      throw new WindowStillOpenError(
        `window ${id} runs until ${window.to_at.toISOString()} (closable ${CLOSE_GRACE_MS / 60_000} min later)`);
    }
    // Another replica had this lease and left the window open: it died or failed part-way.
    if (lease?.contended) lease.tookOver();

    const batch = settle(operator.currency, await this.#movements(operator, window, lease));
    lease?.throwIfLost();
    const booked = await requestReply(this.#nc, Requests.billingBookSettlement, {
      windowId: id, operatorId,
      lines: batch.merchants.map((l) => ({
        merchantId: l.merchantId, netPayable: moneyToProto({ amountMinor: l.netPayableMinor, currency: l.currency }),
      })),
      operatorShare: moneyToProto({ amountMinor: batch.operator.owedMinor, currency: operator.currency }),
      airtimeOwed: moneyToProto({ amountMinor: batch.operator.airtimeOwedMinor, currency: operator.currency }),
      toUnixMs: unixMsToProto(window.to_at),
    }, BILLING_TIMEOUT_MS);
    if (!booked.ok) throw new Error(`billing could not book window ${id}: ${booked.detail}`);
    const paidOut: Record<string, bigint> = {};
    for (const line of booked.paidOut ?? []) paidOut[line.merchantId ?? ''] = int64ToBigInt(line.netPayable?.amountMinor);
    const airtimeSettled = booked.airtimeSettled ? int64ToBigInt(booked.airtimeSettled.amountMinor) : 0n;

    return withTransaction(this.#pool, 'READ COMMITTED', async (client) => {
      const current = (await client.query<WindowRow>(
        'SELECT * FROM settlement.windows WHERE window_id = $1 FOR UPDATE', [id])).rows[0] as WindowRow;
      if (current.state !== 'open' && current.batch) return closedFrom(current, false); // another closer got here first
      // A closer that lost its lease marks nothing: the one that holds it now does.
      await lease?.assertHeldIn(client);
      await client.query(`UPDATE settlement.windows SET state = 'closed', batch = $2, closed_at = now() WHERE window_id = $1`,
        [id, JSON.stringify(toStored(batch, paidOut, airtimeSettled))]);
      for (const line of batch.merchants) {
        const ids = { eventId: `${id}:${line.merchantId}:settlement.closed`, correlationId: id };
        await emitEvent(client, OUTBOX, Events.merchantEvent, ids, {
          merchantId: line.merchantId, type: 'settlement.closed',
          settlement: merchantSettlement(id, operatorId, window.from_at, window.to_at, 'closed', line, paidOut[line.merchantId] ?? 0n),
        });
      }
      this.#log.info({
        windowId: id, merchants: batch.merchants.length, airtimeOwedMinor: String(batch.operator.airtimeOwedMinor),
        airtimeSettledMinor: String(airtimeSettled),
      }, 'settlement window closed');
      return {
        windowId: id, operatorId, fromAt: window.from_at, toAt: window.to_at, batch, paidOutMinor: paidOut,
        airtimeSettledMinor: airtimeSettled, closedNow: true,
      };
    });
  }

  /** Marks a closed window paid out (CLOSED -> SETTLED). Idempotent; an open window cannot be. */
  async markSettled(id: string): Promise<'settled' | 'already-settled'> {
    const { rows } = await this.#pool.query<{ state: string }>('SELECT state FROM settlement.windows WHERE window_id = $1', [id]);
    const state = rows[0]?.state;
    if (state === 'settled') return 'already-settled';
    if (state !== 'closed') throw new Error(`window ${id} is ${state ?? 'unknown'}; only a closed window can be marked settled`);
    await this.#pool.query(
      `UPDATE settlement.windows SET state = 'settled', settled_at = now() WHERE window_id = $1 AND state = 'closed'`, [id]);
    return 'settled';
  }

  /** Yesterday's window of each operator, once it has ended (in the operator's zone and cut-off). */
  async closeDue(): Promise<number> {
    let closed = 0;
    for (const operator of this.#config.operators) {
      const { rows } = await this.#pool.query<{ day: string }>(
        `SELECT to_char(((now() AT TIME ZONE $1) - $2::time)::date - 1, 'YYYY-MM-DD') AS day`,
        [operator.settlement.timeZone, operator.settlement.cutoffLocalTime],
      );
      const day = rows[0]?.day as string;
      const done = await this.#pool.query(
        `SELECT 1 FROM settlement.windows WHERE window_id = $1 AND state <> 'open'`, [windowId(operator.id, day)]);
      if ((done.rowCount ?? 0) > 0) continue;
      try {
        const result = await this.close(operator.id, day);
        if (result.closedNow) {
          closed++;
          if (this.#config.settlementReports.dir) writeReports(this.#config.settlementReports.dir, result);
        }
      } catch (err) {
        if (err instanceof LeaseHeldError) {
          this.#log.debug({ operatorId: operator.id, day }, 'another replica is closing the settlement window');
        } else if (!(err instanceof WindowStillOpenError)) {
          this.#log.warn({ err, operatorId: operator.id, day }, 'could not close the settlement window; will try again');
        }
      }
    }
    return closed;
  }

  async forMerchant(request: dialpay.v1.IMerchantSettlementsRequest): Promise<dialpay.v1.IMerchantSettlementsReply> {
    const limit = Math.min(Math.max(request.limit || 30, 1), 366);
    const { rows } = await this.#pool.query<WindowRow & { line: Record<string, string | number> }>(
      `SELECT w.*, l AS line FROM settlement.windows w, jsonb_array_elements(w.batch->'merchants') l
       WHERE w.state <> 'open' AND l->>'merchantId' = $1 ORDER BY w.to_at DESC LIMIT $2`,
      [request.merchantId ?? '', limit],
    );
    return {
      available: true,
      settlements: rows.map((r) => {
        const line = lineFromStored(r.line);
        return merchantSettlement(r.window_id, r.operator_id, r.from_at, r.to_at, r.state, line,
          BigInt(r.batch?.paidOut?.[line.merchantId] ?? '0'));
      }),
    };
  }

  async #movements(operator: OperatorConfig, window: WindowRow, lease: Lease | null): Promise<Movement[]> {
    const out: Movement[] = [];
    let after = '';
    for (let page = 0; page < MOVEMENT_PAGES_MAX; page++) {
      lease?.throwIfLost();
      const reply = await requestReply(this.#nc, Requests.billingSettlementMovements, {
        operatorId: operator.id, fromUnixMs: unixMsToProto(window.from_at), toUnixMs: unixMsToProto(window.to_at),
        limit: MOVEMENTS_PAGE, afterTransferId: after,
      }, BILLING_TIMEOUT_MS);
      if (!reply.available) throw new Error('billing could not list the window\'s movements');
      for (const m of reply.movements ?? []) {
        out.push(movementFrom(m));
        after = m.transferId ?? after;
      }
      if (!reply.more) return out;
    }
    throw new Error(`window ${window.window_id} has more movements than one close reads`);
  }
}

export { batchCsv, operatorCsv };

function movementFrom(m: dialpay.v1.ISettlementMovement): Movement {
  const n = int64ToBigInt;
  const currency = m.currency ?? '';
  const walletFunded = m.walletFunded === true;
  switch (m.kind) {
    case 'capture':
      return {
        kind: 'capture', merchantId: m.merchantId ?? '', currency, grossMinor: n(m.grossMinor), feeMinor: n(m.feeMinor),
        operatorShareMinor: n(m.operatorShareMinor), payeeMinor: n(m.payeeMinor), walletFunded,
      };
    case 'refund':
      return { kind: 'refund', merchantId: m.merchantId ?? '', currency, refundMinor: n(m.refundMinor), walletFunded };
    case 'airtime':
      return { kind: 'airtime', currency, amountMinor: n(m.grossMinor) };
    case 'airtime_refund':
      return { kind: 'airtime_refund', currency, amountMinor: n(m.refundMinor) };
    case 'collected':
      return { kind: 'collected', currency, amountMinor: n(m.grossMinor) };
    case 'payout':
      return { kind: 'payout', merchantId: m.merchantId ?? '', currency, amountMinor: n(m.payeeMinor) };
    default:
      throw new Error(`billing sent a settlement movement of unknown kind "${m.kind}"`);
  }
}

/**
 * `<dir>/settlement-<operator>-<date>.csv` (merchant lines), `-operator.csv` (the operator's line:
 * owes, owed, airtime) and `.json`; returns the path without its extension.
 */
export function writeReports(dir: string, closed: ClosedWindow): string {
  const base = `${dir}/settlement-${closed.windowId.replace('/', '-')}`;
  writeFileSync(`${base}.csv`, batchCsv(closed.windowId, closed.batch, closed.paidOutMinor));
  writeFileSync(`${base}-operator.csv`, operatorCsv(closed.windowId, closed.operatorId, closed.batch, closed.airtimeSettledMinor));
  const json = {
    windowId: closed.windowId, from: closed.fromAt.toISOString(), to: closed.toAt.toISOString(), ...closed.batch,
    paidOutMinor: closed.paidOutMinor, airtimeSettledMinor: closed.airtimeSettledMinor,
  };
  writeFileSync(`${base}.json`, `${JSON.stringify(json, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
  return base;
}

function toStored(batch: Batch, paidOut: Readonly<Record<string, bigint>>, airtimeSettled: bigint): StoredBatch {
  return {
    airtimeSettled: String(airtimeSettled),
    paidOut: Object.fromEntries(Object.entries(paidOut).map(([k, v]) => [k, String(v)])),
    merchants: batch.merchants.map(({ payoutsMinor, payouts, ...l }) => ({
      ...l, grossMinor: String(l.grossMinor), refundsMinor: String(l.refundsMinor), feesMinor: String(l.feesMinor),
      operatorShareMinor: String(l.operatorShareMinor), netPayableMinor: String(l.netPayableMinor),
      ...(payouts === undefined ? {} : { payouts, payoutsMinor: String(payoutsMinor ?? 0n) }),
    })),
    operator: {
      currency: batch.operator.currency, owesMinor: String(batch.operator.owesMinor), owedMinor: String(batch.operator.owedMinor),
      airtimeOwedMinor: String(batch.operator.airtimeOwedMinor),
    },
  };
}

function lineFromStored(l: Record<string, string | number>): Batch['merchants'][number] {
  return {
    merchantId: String(l.merchantId), currency: String(l.currency), payments: Number(l.payments), refunds: Number(l.refunds),
    grossMinor: BigInt(l.grossMinor as string), refundsMinor: BigInt(l.refundsMinor as string), feesMinor: BigInt(l.feesMinor as string),
    operatorShareMinor: BigInt(l.operatorShareMinor as string), netPayableMinor: BigInt(l.netPayableMinor as string),
    // Only a line with payouts stored them (and none before payouts existed).
    ...(l.payouts === undefined ? {} : { payouts: Number(l.payouts), payoutsMinor: BigInt(l.payoutsMinor as string) }),
  };
}

function fromStored(stored: StoredBatch): Batch {
  return {
    merchants: stored.merchants.map(lineFromStored),
    // A window closed before airtime was settled stored no airtime figure: it settled none.
    operator: {
      currency: String(stored.operator.currency), owesMinor: BigInt(stored.operator.owesMinor as string),
      owedMinor: BigInt(stored.operator.owedMinor as string), airtimeOwedMinor: BigInt(stored.operator.airtimeOwedMinor ?? '0'),
    },
  };
}

function closedFrom(window: WindowRow, closedNow: boolean): ClosedWindow {
  const stored = window.batch as StoredBatch;
  return {
    windowId: window.window_id, operatorId: window.operator_id, fromAt: window.from_at, toAt: window.to_at, batch: fromStored(stored),
    paidOutMinor: Object.fromEntries(Object.entries(stored.paidOut ?? {}).map(([k, v]) => [k, BigInt(v)])),
    airtimeSettledMinor: BigInt(stored.airtimeSettled ?? '0'), closedNow,
  };
}

function merchantSettlement(
  windowIdValue: string, operatorId: string, fromAt: Date, toAt: Date, status: string,
  line: Batch['merchants'][number], paidOutMinor: bigint,
): dialpay.v1.IMerchantSettlement {
  const money = (amountMinor: bigint) => moneyToProto({ amountMinor, currency: line.currency });
  return {
    windowId: windowIdValue, operatorId, fromUnixMs: unixMsToProto(fromAt), toUnixMs: unixMsToProto(toAt),
    payments: line.payments, refunds: line.refunds,
    gross: money(line.grossMinor), refundsTotal: money(line.refundsMinor), fees: money(line.feesMinor),
    operatorShare: money(line.operatorShareMinor), netPayable: money(line.netPayableMinor), status, paidOut: money(paidOutMinor),
    // As the CSV has them; a line stored before payouts existed had none.
    payouts: line.payouts ?? 0, payoutsTotal: money(line.payoutsMinor ?? 0n),
  };
}
