// Settlement closes that at most one replica does (runtime/pg/lease.ts): two
// settlement instances, each with its own pool, told to close the same window
// at once close it once (one batch, one booking request to billing, the
// ledger moved once); an instance whose lease is lost part-way (its
// connection killed after billing booked) marks nothing, and the other takes
// the window over and closes it to exactly what one close would; and a
// `dialpay settle` process SIGKILLed while it holds the lease is taken over by
// a second one that was waiting for it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { AccountIds } from '../../../services/billing/ledger/rules.js';
import { SettlementService, leaseOf, windowId } from '../../../services/settlement/index.js';
import { Requests, type NatsHandle } from '../../../runtime/nats/index.js';
import { createPool, type Pool } from '../../../runtime/pg/index.js';
import { LEASE_LOCK_CLASS, LeaseHeldError, LeaseLostError, Leases } from '../../../runtime/pg/lease.js';
import { createRegistry, type Registry } from '../../../runtime/metrics.js';
import { startMerchantApiStack, type PaymentsStack } from '../../support/payments-stack.js';
import { quietLogger, waitFor } from '../../support/stack.js';
import { runTs } from '../../support/child.js';
import { day, noonOf } from '../../support/days.js';

let p: PaymentsStack;
let nats: NatsHandle;
const carrier = new SimulatedCarrier({ openingBalanceMinor: 1_000_000n });
const OPERATOR = 'safaricom-ke';
/** Booking requests billing was sent, per window: each close of a window sends one. */
const bookings = new Map<string, number>();

interface Replica {
  readonly pool: Pool;
  readonly registry: Registry;
  readonly service: SettlementService;
}
const replicas: Replica[] = [];

function replica(name: string): Replica {
  const log = quietLogger();
  const pool = createPool({
    url: p.stack.databaseUrl, poolSizeMax: 4, connectTimeoutMs: 5_000, statementTimeoutMs: 120_000, applicationName: name,
  }, log);
  const registry = createRegistry('settlement');
  const leases = new Leases({ pool, log, registry, checkEveryMs: 200 });
  const r = { pool, registry, service: new SettlementService({ pool, nc: nats.nc, config: p.stack.config, log, leases }) };
  replicas.push(r);
  return r;
}

async function metric(r: Replica, name: string): Promise<number> {
  const line = (await r.registry.metrics()).split('\n').find((l) => l.startsWith(`${name}{`));
  return Number(line?.split(' ').at(-1));
}

/** Payments made now, moved into the window `offsetDays` ago (which has ended). */
async function paymentsIn(offsetDays: number, payers: readonly string[]): Promise<void> {
  const ids: string[] = [];
  for (const payer of payers) ids.push(await p.payBySms(payer, 'SHOP42', '100')); // payee 88.40 each
  await p.pool.query(`UPDATE billing.transfers SET created_at = $2 WHERE payment_id = ANY($1)`, [ids, noonOf(offsetDays)]);
}

/** The merchant's settled account, 0 before any window paid it (when a test runs alone). */
const settled = () => p.ledger.balance(AccountIds.merchantSettled('SHOP42', 'KES')).catch(() => 0n);

const settleTransfers = async (id: string) =>
  (await p.pool.query<{ id: string; amount_minor: string }>(`SELECT id, amount_minor::text FROM billing.transfers WHERE id LIKE $1 ORDER BY id COLLATE "C"`, [`settle:${id}:%`])).rows;

/** Holds the window's row locked FOR UPDATE: a closer stops just before marking it (after billing booked). */
async function holdWindowRow(offsetDays: number): Promise<pg.PoolClient> {
  const operator = p.stack.config.operators.find((o) => o.id === OPERATOR);
  if (!operator) throw new Error('no operator');
  const date = day(offsetDays);
  await p.pool.query(
    `INSERT INTO settlement.windows (window_id, operator_id, window_date, from_at, to_at, currency, state)
     VALUES ($1, $2, $3::date, ($3::date + $4::time) AT TIME ZONE $5, ($3::date + 1 + $4::time) AT TIME ZONE $5, $6, 'open')`,
    [windowId(OPERATOR, date), OPERATOR, date, operator.settlement.cutoffLocalTime, operator.settlement.timeZone, operator.currency],
  );
  // A pool of its own: the stack's would end this transaction as idle after 10 s.
  const client = await replica('row-holder').pool.connect();
  client.on('error', () => undefined);
  await client.query('BEGIN');
  await client.query('SELECT 1 FROM settlement.windows WHERE window_id = $1 FOR UPDATE', [windowId(OPERATOR, date)]);
  return client;
}

/** Waits until a backend of `application` waits for a lock in the closer's last step. */
const blockedAtMark = (application: string) => waitFor(`${application} blocked before marking the window`, async () =>
  (await p.pool.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock' AND query LIKE '%settlement.windows%FOR UPDATE%'`, [application])).rowCount === 1, 60_000);

beforeAll(async () => {
  ({ p, nats } = await startMerchantApiStack(carrier, [], 'settlement-lease-test'));
  // A plain subscriber gets a copy of every booking request (billing answers in its queue group).
  nats.nc.subscribe(Requests.billingBookSettlement.subject, {
    callback: (_err, msg) => {
      const id = Requests.billingBookSettlement.request.decode(msg.data).windowId ?? '';
      bookings.set(id, (bookings.get(id) ?? 0) + 1);
    },
  });
}, 120_000);
afterAll(async () => {
  for (const r of replicas) await r.pool.end();
  await nats?.close();
  await p?.cleanup();
});

describe('settlement closes across replicas', () => {
  it('two instances told to close the same window at once close it once: one batch, one booking, the ledger moved once', async () => {
    await paymentsIn(-3, ['254777100001', '254777100002']);
    const [a, b] = [replica('settle-a'), replica('settle-b')];
    const id = windowId(OPERATOR, day(-3));
    const settledBefore = await settled();

    const [ra, rb] = await Promise.all([
      a.service.close(OPERATOR, day(-3), { leaseWaitMs: 30_000 }), b.service.close(OPERATOR, day(-3), { leaseWaitMs: 30_000 }),
    ]);
    expect([ra.closedNow, rb.closedNow].sort()).toEqual([false, true]);
    expect(ra.batch).toEqual(rb.batch);
    expect(ra.paidOutMinor).toEqual({ SHOP42: 17_680n });
    expect(rb.paidOutMinor).toEqual(ra.paidOutMinor);
    // The second waited and read what the first stored: billing was asked to book the window once.
    await new Promise((r) => setTimeout(r, 200));
    expect(bookings.get(id)).toBe(1);
    expect((await settleTransfers(id)).map((t) => [t.id, t.amount_minor])).toEqual([[`settle:${id}:SHOP42:KES`, '17680'], [`settle:${id}:operator`, '2000']]);
    expect(await settled()).toBe(settledBefore + 17_680n);
    for (const r of [a, b]) {
      expect(await metric(r, 'dialpay_lease_held')).toBe(0);
      expect(await metric(r, 'dialpay_lease_takeovers_total')).toBe(0);
    }
    expect(await p.ledger.check()).toEqual({ postingsSumMinor: 0n, unbalancedTransfers: 0, driftedBalances: 0, negativeBalances: 0 });
  });

  it('an instance that loses its lease part-way marks nothing; the other takes the window over and closes it as one close would', async () => {
    await paymentsIn(-4, ['254777100003']);
    const [a, b] = [replica('settle-c'), replica('settle-d')];
    const id = windowId(OPERATOR, day(-4));
    const settledBefore = await settled();
    const row = await holdWindowRow(-4);
    try {
      const first = a.service.close(OPERATOR, day(-4));
      const firstOutcome = first.then(() => 'closed', (err: unknown) => err);
      await blockedAtMark('settle-c');
      expect(await metric(a, 'dialpay_lease_held')).toBe(1);
      // B's sweep finds the window being closed, and skips it.
      await expect(b.service.close(OPERATOR, day(-4))).rejects.toBeInstanceOf(LeaseHeldError);
      expect(bookings.get(id)).toBe(1); // A had billing book it before it stopped

      // A's lease connection dies (its host is cut off): the lock is gone, A stops before marking.
      const killed = await p.pool.query(
        `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::int::oid AND objid = hashtext($2)::oid AND objsubid = 2`, [LEASE_LOCK_CLASS, leaseOf(id)],
      );
      expect(killed.rowCount).toBe(1);
      await waitFor('A lost its lease', async () => (await metric(a, 'dialpay_lease_held')) === 0, 10_000);
      await row.query('ROLLBACK');
      expect(await firstOutcome).toBeInstanceOf(LeaseLostError);
      expect((await p.pool.query(`SELECT state FROM settlement.windows WHERE window_id = $1`, [id])).rows[0]?.state).toBe('open');

      // B's next sweep gets the lease and closes the window A left open: a takeover.
      const taken = await b.service.close(OPERATOR, day(-4));
      expect(taken.closedNow).toBe(true);
      expect(taken.paidOutMinor).toEqual({ SHOP42: 8_840n });
      expect(await metric(b, 'dialpay_lease_takeovers_total')).toBe(1);
      expect(await metric(b, 'dialpay_lease_held')).toBe(0);
      // Booked once: B's request found A's transfers and reported them as booked.
      expect((await settleTransfers(id)).map((t) => [t.id, t.amount_minor])).toEqual([[`settle:${id}:SHOP42:KES`, '8840'], [`settle:${id}:operator`, '1000']]);
      expect(await settled()).toBe(settledBefore + 8_840n);
      expect(await p.ledger.check()).toEqual({ postingsSumMinor: 0n, unbalancedTransfers: 0, driftedBalances: 0, negativeBalances: 0 });
    } finally {
      row.release();
    }
  });

  it('dialpay settle killed (SIGKILL) while it holds the lease: a second, waiting for it, takes over and closes the window', async () => {
    await paymentsIn(-5, ['254777100004', '254777100005', '254777100006']);
    const id = windowId(OPERATOR, day(-5));
    const settledBefore = await settled();
    const dir = mkdtempSync(join(tmpdir(), 'dialpay-settle-lease-'));
    const config = join(dir, 'dialpay.yaml');
    writeFileSync(config, stringify({ ...p.stack.rawConfig, log: { level: 'error' } }));
    const settle = () => runTs('cli/dialpay.ts', ['settle', '--operator', OPERATOR, '--window', day(-5), '--out', dir, '--config', config]);
    const row = await holdWindowRow(-5);
    try {
      const holder = settle();
      await blockedAtMark('dialpay-settle').catch((err: Error) => {
        throw new Error(`${err.message}; the holder said: ${holder.stderr().slice(-2000)}`);
      });
      const waiter = settle();
      await waitFor('the second to wait', async () => /another process is closing/.test(waiter.stderr()), 60_000);
      await holder.kill('SIGKILL');
      await row.query('ROLLBACK');
      expect(await waiter.exited()).toBe(0);
      expect(waiter.stdout()).toMatch(new RegExp(`^closed ${id}: 1 merchant\\(s\\)`));
    } finally {
      row.release();
    }
    expect(bookings.get(id)).toBe(2); // the holder's, before it died, and the taker's, which booked nothing new
    expect((await settleTransfers(id)).map((t) => [t.id, t.amount_minor])).toEqual([[`settle:${id}:SHOP42:KES`, '26520'], [`settle:${id}:operator`, '3000']]);
    expect(await settled()).toBe(settledBefore + 26_520n);
    const stored = await p.pool.query<{ state: string; paid: string }>(`SELECT state, batch->'paidOut'->>'SHOP42' AS paid FROM settlement.windows WHERE window_id = $1`, [id]);
    expect(stored.rows[0]).toEqual({ state: 'closed', paid: '26520' });
  }, 180_000);
});
