// Billing's batch runners (batches.ts) against real Postgres: a batch of reserves
// writes in two transactions (the claims, committed before the carrier is called,
// then the bookings), a batch of captures, voids or refunds in one (refunds: two,
// their claims first); a request that cannot go ahead fails alone, and the
// ledger still adds up. Transactions that wrote are counted by the transaction
// ids PostgreSQL handed out (a read-only transaction takes none).
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPool, migrateSchemas, type Pool } from '../../../runtime/pg/index.js';
import { moneyToProto, type dialpay } from '../../../proto/index.js';
import { DebitService, SimulatedCarrier } from '../../../services/billing/index.js';
import { DebitBusyError } from '../../../services/billing/debit-context.js';
import { runCaptureBatch, runRefundBatch, runReserveBatch, runVoidBatch } from '../../../services/billing/batches.js';
import { Ledger } from '../../../services/billing/ledger/store.js';
import type { CarrierAdapter } from '../../../services/billing/adapters/types.js';
import { AccountIds, depositTransfer } from '../../../services/billing/ledger/rules.js';
import { setupStack, quietLogger, type Stack } from '../../support/stack.js';

const log = quietLogger();
let stack: Stack;
let pool: Pool;
let ledger: Ledger;
let debits: DebitService;
const carrier = new SimulatedCarrier({ openingBalanceMinor: 100_000n });
const KES = (amountMinor: bigint) => moneyToProto({ amountMinor, currency: 'KES' });
const N = 8;

beforeAll(async () => {
  stack = await setupStack();
  await migrateSchemas(stack.databaseUrl, [{ schema: 'billing', dir: fileURLToPath(new URL('../../../services/billing/migrations/', import.meta.url)) }], log);
  pool = createPool({ url: stack.databaseUrl, poolSizeMax: 6, connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, applicationName: 'test' }, log);
  ledger = new Ledger(pool);
  debits = new DebitService({
    pool, ledger, operators: new Map(stack.config.operators.map((o) => [o.id, o])), adapterFor: () => carrier, log,
  });
});
afterAll(async () => {
  await pool?.end();
  await stack?.cleanup();
});

/** The next transaction id PostgreSQL will hand out (asking takes one). */
async function nextXid(): Promise<bigint> {
  return BigInt((await pool.query<{ x: string }>('SELECT pg_current_xact_id()::text AS x')).rows[0]?.x ?? '0') + 1n;
}

/** Transactions that wrote while fn ran: ids handed out, less the one the second look takes. */
async function writingTransactions(fn: () => Promise<unknown>): Promise<number> {
  const before = await nextXid();
  await fn();
  return Number((await nextXid()) - before - 1n);
}

const reserveOf = (debitId: string, msisdn: string, amountMinor: bigint): dialpay.v1.IDebitReserveRequested => ({
  debitId, paymentId: `p-${debitId}`, operatorId: 'safaricom-ke', msisdn, amount: KES(amountMinor), description: 'batch',
});
const captureOf = (debitId: string, amountMinor: bigint, merchantId = 'SHOP42'): dialpay.v1.IDebitCaptureRequested => ({
  debitId, paymentId: `p-${debitId}`, amount: KES(amountMinor), merchantId, payeeAmount: KES(amountMinor - 100n), fee: KES(100n),
});
const items = <M>(messages: readonly M[]) => messages.map((message) => ({ message }));

async function states(ids: readonly string[]): Promise<string[]> {
  const { rows } = await pool.query<{ debit_id: string; state: string }>('SELECT debit_id, state FROM billing.debits WHERE debit_id = ANY ($1::text[])', [ids]);
  const byId = new Map(rows.map((r) => [r.debit_id, r.state]));
  return ids.map((id) => byId.get(id) ?? 'none');
}

async function resultEvents(prefix: string): Promise<string[]> {
  return (await pool.query<{ event_id: string }>('SELECT event_id FROM billing.outbox WHERE event_id LIKE $1 ORDER BY event_id', [`${prefix}%`])).rows.map((r) => r.event_id);
}

async function expectSoundLedger(): Promise<void> {
  expect(await ledger.check()).toEqual({ postingsSumMinor: 0n, unbalancedTransfers: 0, driftedBalances: 0, negativeBalances: 0 });
}

it('N reserves write in two transactions (claims, then bookings), N captures in one; each request gets its result', async () => {
  // One payer has a dialpay wallet that covers the amount: wallet-funded, no carrier call, same batch.
  const walletPayer = '254766000099';
  await ledger.ensureAccount(AccountIds.subscriber(walletPayer), 'subscriber', 'KES');
  await ledger.ensureAccount(AccountIds.carrier('safaricom-ke'), 'carrier_clearing', 'KES');
  await ledger.apply(depositTransfer('batch-cash-in', 'safaricom-ke', AccountIds.subscriber(walletPayer), 'KES', 5_000n));
  const ids = Array.from({ length: N }, (_, i) => `batch-r-${i}`);
  const msisdn = (i: number) => (i === 0 ? walletPayer : `25476600000${i}`);
  const reserves = ids.map((id, i) => reserveOf(id, msisdn(i), 1_000n));
  // The same request twice in one batch: handled once, both answered.
  const batch = items([...reserves, reserves[1] as dialpay.v1.IDebitReserveRequested]);

  let reserved: PromiseSettledResult<void>[] = [];
  expect(await writingTransactions(async () => (reserved = await runReserveBatch(debits, batch)))).toBe(2);
  expect(reserved.map((r) => r.status)).toEqual(batch.map(() => 'fulfilled'));
  expect(await states(ids)).toEqual(ids.map(() => 'reserved'));
  expect((await pool.query<{ funding: string }>('SELECT funding FROM billing.debits WHERE debit_id = $1', [ids[0]])).rows[0]?.funding).toBe('wallet');
  expect(carrier.balanceOf(msisdn(1))).toBe(99_000n); // held at the carrier once, the repeat notwithstanding
  expect(await resultEvents('debit-reserve-result:batch-r-')).toHaveLength(N);
  expect(await ledger.balance(AccountIds.holds('KES'))).toBe(BigInt(N) * 1_000n);

  let captured: PromiseSettledResult<void>[] = [];
  expect(await writingTransactions(async () => (
    captured = await runCaptureBatch(debits, items(ids.map((id) => captureOf(id, 1_000n))))
  ))).toBe(1);
  expect(captured.every((r) => r.status === 'fulfilled')).toBe(true);
  expect(await states(ids)).toEqual(ids.map(() => 'captured'));
  expect(await ledger.balance(AccountIds.merchant('SHOP42', 'KES'))).toBe(BigInt(N) * 900n);
  expect(await ledger.balance(AccountIds.holds('KES'))).toBe(0n);
  expect(carrier.balanceOf(msisdn(1))).toBe(99_000n);
  // Every row the captures wrote carries the one transaction's id.
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(DISTINCT xmin::text)::int AS n FROM (
       SELECT xmin FROM billing.debits WHERE debit_id LIKE 'batch-r-%'
       UNION ALL SELECT xmin FROM billing.transfers WHERE id LIKE 'capture:batch-r-%'
       UNION ALL SELECT xmin FROM billing.outbox WHERE event_id LIKE 'debit-capture-result:batch-r-%') w`,
  );
  expect(rows[0]?.n).toBe(1);
  await expectSoundLedger();

  // Delivered again: nothing moves twice, and the answers are the same events.
  expect((await runCaptureBatch(debits, items(ids.map((id) => captureOf(id, 1_000n))))).every((r) => r.status === 'fulfilled')).toBe(true);
  expect(await resultEvents('debit-capture-result:batch-r-')).toHaveLength(N);
  expect(await ledger.balance(AccountIds.merchant('SHOP42', 'KES'))).toBe(BigInt(N) * 900n);
});

it('a batch of reserves calls the carrier only once its claims are committed: a void arriving meanwhile finds them', async () => {
  const seen: string[] = [];
  // The carrier looks, on a connection of its own, for the claim of the debit it is asked to reserve.
  const watching = new DebitService({
    pool, ledger, operators: new Map(stack.config.operators.map((o) => [o.id, o])), log,
    adapterFor: (): CarrierAdapter => ({
      name: carrier.name, fundsCheckedInLedger: carrier.fundsCheckedInLedger,
      payerAccountId: (operatorId) => carrier.payerAccountId(operatorId),
      reserve: async (request) => {
        seen.push((await pool.query<{ state: string }>('SELECT state FROM billing.debits WHERE debit_id = $1', [request.debitId])).rows[0]?.state ?? 'none');
        return carrier.reserve(request);
      },
      capture: (debitId, amountMinor) => carrier.capture(debitId, amountMinor), release: (debitId) => carrier.release(debitId),
      refund: (refundId, debitId, amountMinor) => carrier.refund(refundId, debitId, amountMinor),
      balance: (operatorId, msisdn) => carrier.balance(operatorId, msisdn),
    }),
  });
  const ids = Array.from({ length: 3 }, (_, i) => `claimed-${i}`);
  expect((await runReserveBatch(watching, items(ids.map((id, i) => reserveOf(id, `25475500000${i}`, 500n))))).every((r) => r.status === 'fulfilled')).toBe(true);
  expect(seen).toEqual(['reserving', 'reserving', 'reserving']);
  expect(await states(ids)).toEqual(['reserved', 'reserved', 'reserved']);
});

it('two reserves a wallet covered at their claim but not both: one from the wallet, the other switches to the carrier', async () => {
  const payer = '254744000001';
  await ledger.ensureAccount(AccountIds.subscriber(payer), 'subscriber', 'KES');
  await ledger.apply(depositTransfer('batch-cash-in-2', 'safaricom-ke', AccountIds.subscriber(payer), 'KES', 1_500n));
  const ids = ['short-a', 'short-b'];
  const reserved = await runReserveBatch(debits, items(ids.map((id) => reserveOf(id, payer, 1_000n))));
  expect(reserved.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
  expect(await states(ids)).toEqual(['reserved', 'reserved']);
  const { rows } = await pool.query<{ funding: string }>('SELECT funding FROM billing.debits WHERE debit_id = ANY ($1::text[]) ORDER BY funding', [ids]);
  expect(rows.map((r) => r.funding)).toEqual(['carrier', 'wallet']);
  expect(await ledger.balance(AccountIds.subscriber(payer))).toBe(500n);
  expect(carrier.balanceOf(payer)).toBe(99_000n);
  await expectSoundLedger();
});

it('a capture of a debit still reserving fails alone; the others commit together', async () => {
  const ids = Array.from({ length: 4 }, (_, i) => `busy-${i}`);
  expect((await runReserveBatch(debits, items(ids.map((id, i) => reserveOf(id, `25477700000${i}`, 2_000n))))).every((r) => r.status === 'fulfilled')).toBe(true);
  // A claim whose reserve is still in flight (another consumer has it).
  await pool.query(
    `INSERT INTO billing.debits (debit_id, payment_id, operator_id, msisdn, currency, amount_minor, payer_account_id, adapter, state)
     VALUES ('busy-x', 'p-busy-x', 'safaricom-ke', '254777000009', 'KES', 2000, $1, 'simulator', 'reserving')`,
    [AccountIds.carrier('safaricom-ke')],
  );
  const batch = [...ids.slice(0, 2), 'busy-x', ...ids.slice(2)].map((id) => captureOf(id, 2_000n));
  let captured: PromiseSettledResult<void>[] = [];
  expect(await writingTransactions(async () => (captured = await runCaptureBatch(debits, items(batch))))).toBe(1);
  expect(captured.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
  expect((captured[2] as PromiseRejectedResult).reason).toBeInstanceOf(DebitBusyError);
  expect(await states([...ids, 'busy-x'])).toEqual(['captured', 'captured', 'captured', 'captured', 'reserving']);
  await expectSoundLedger();
});

it('a request that fails inside the shared transaction rolls it back; the others then commit alone', async () => {
  const ids = Array.from({ length: 3 }, (_, i) => `poison-${i}`);
  expect((await runReserveBatch(debits, items(ids.map((id, i) => reserveOf(id, `25478800000${i}`, 3_000n))))).every((r) => r.status === 'fulfilled')).toBe(true);
  // A merchant payable kept in another currency: booking a capture to it fails the ledger statement.
  await pool.query(`INSERT INTO billing.accounts (id, kind, currency) VALUES ('merchant:ODD:KES', 'merchant_payable', 'XOF')`);
  const batch = [captureOf('poison-0', 3_000n), captureOf('poison-1', 3_000n, 'ODD'), captureOf('poison-2', 3_000n)];
  const captured = await runCaptureBatch(debits, items(batch));
  expect(captured.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  expect(await states(ids)).toEqual(['captured', 'reserved', 'captured']);
  await expectSoundLedger();
});

it('voids and refunds run as batches too: voids in one transaction, refunds in two', async () => {
  const ids = Array.from({ length: 4 }, (_, i) => `vr-${i}`);
  expect((await runReserveBatch(debits, items(ids.map((id, i) => reserveOf(id, `25479900000${i}`, 4_000n))))).every((r) => r.status === 'fulfilled')).toBe(true);
  const [toVoid, toCapture] = [ids.slice(0, 2), ids.slice(2)];
  // Voids of two reserved debits and of one never reserved (a tombstone).
  const voids = [...toVoid, 'vr-never'].map((debitId) => ({ debitId, paymentId: `p-${debitId}`, reason: 'expired' }));
  let voided: PromiseSettledResult<void>[] = [];
  expect(await writingTransactions(async () => (voided = await runVoidBatch(debits, items(voids))))).toBe(1);
  expect(voided.every((r) => r.status === 'fulfilled')).toBe(true);
  expect(await states([...toVoid, 'vr-never'])).toEqual(['voided', 'voided', 'voided']);
  expect(carrier.balanceOf('254799000000')).toBe(100_000n); // released at the carrier

  expect((await runCaptureBatch(debits, items(toCapture.map((id) => captureOf(id, 4_000n))))).every((r) => r.status === 'fulfilled')).toBe(true);
  const payable = await ledger.balance(AccountIds.merchant('SHOP42', 'KES'));
  const refunds = toCapture.map((debitId) => ({ refundId: `rf-${debitId}`, debitId, paymentId: `p-${debitId}`, merchantId: 'SHOP42', amount: KES(1_500n) }));
  let refunded: PromiseSettledResult<void>[] = [];
  expect(await writingTransactions(async () => (refunded = await runRefundBatch(debits, items(refunds))))).toBe(2);
  expect(refunded.every((r) => r.status === 'fulfilled')).toBe(true);
  expect(await ledger.balance(AccountIds.merchant('SHOP42', 'KES'))).toBe(payable - 3_000n);
  expect(await resultEvents('debit-refund-result:rf-vr-')).toHaveLength(2);
  await expectSoundLedger();
});

it('batches running side by side over the same wallets finish, each request answered, the ledger sound', async () => {
  const wallets = Array.from({ length: 4 }, (_, i) => `25473300000${i}`);
  for (const [i, w] of wallets.entries()) {
    await ledger.ensureAccount(AccountIds.subscriber(w), 'subscriber', 'KES');
    await ledger.apply(depositTransfer(`side-cash-in-${i}`, 'safaricom-ke', AccountIds.subscriber(w), 'KES', 50_000n));
  }
  // Carrier-funded reserves whose captures credit the wallets, while the wallets pay reserves of their own.
  const toWallets = Array.from({ length: 8 }, (_, i) => `side-c-${i}`);
  expect((await runReserveBatch(debits, items(toWallets.map((id, i) => reserveOf(id, `25473400000${i}`, 700n))))).every((r) => r.status === 'fulfilled')).toBe(true);
  const p2p = (id: string, i: number): dialpay.v1.IDebitCaptureRequested => ({ debitId: id, paymentId: `p-${id}`, amount: KES(700n), payeeMsisdn: wallets[(i + 1) % wallets.length], payeeAmount: KES(700n) });
  const fromWallets = Array.from({ length: 8 }, (_, i) => `side-w-${i}`);
  const [captured, reserved] = await Promise.all([
    runCaptureBatch(debits, items(toWallets.map(p2p))),
    runReserveBatch(debits, items(fromWallets.map((id, i) => reserveOf(id, wallets[i % wallets.length] as string, 900n)))),
  ]);
  expect([...captured, ...reserved].map((r) => r.status)).toEqual([...captured, ...reserved].map(() => 'fulfilled'));
  expect(await states(toWallets)).toEqual(toWallets.map(() => 'captured'));
  expect(await states(fromWallets)).toEqual(fromWallets.map(() => 'reserved'));
  await expectSoundLedger();
}, 30_000);
