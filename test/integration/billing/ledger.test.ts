// The ledger against real Postgres: two-phase debits, idempotency, no
// overdraft under concurrency, a hot merchant account that does not
// serialise, and the invariants read back from the database.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, migrateSchemas, withTransaction, type Pool } from '../../../runtime/pg/index.js';
import { Ledger } from '../../../services/billing/ledger/store.js';
import { AccountIds, captureTransfer, depositTransfer, reserveTransfer, voidTransfer, LedgerInvariantError, type Transfer } from '../../../services/billing/ledger/rules.js';
import { setupStack, quietLogger, type Stack } from '../../support/stack.js';

const log = quietLogger();
let stack: Stack;
let pool: Pool;
let ledger: Ledger;
const A = AccountIds.subscriber('254711000001');
const B = AccountIds.subscriber('254711000002');
const SHOP = AccountIds.merchant('SHOP42', 'KES');
let n = 0;
const id = (prefix: string) => `${prefix}-${++n}`;

async function fund(account: string, amountMinor: bigint): Promise<void> {
  await ledger.ensureAccount(account, 'subscriber', 'KES');
  expect(await ledger.apply(depositTransfer(id('dep'), 'safaricom-ke', account, 'KES', amountMinor))).toEqual({ outcome: 'applied' });
}

function reserveOf(t: Transfer, payer: string) {
  return { id: t.id, paymentId: t.paymentId, currency: t.currency, amountMinor: t.amountMinor, payerAccountId: payer };
}

beforeAll(async () => {
  stack = await setupStack();
  await migrateSchemas(stack.databaseUrl, [{ schema: 'billing', dir: fileURLToPath(new URL('../../../services/billing/migrations/', import.meta.url)) }], log);
  pool = createPool({ url: stack.databaseUrl, poolSizeMax: 20, connectTimeoutMs: 5_000, statementTimeoutMs: 10_000, applicationName: 'test' }, log);
  ledger = new Ledger(pool);
  await ledger.ensureAccount(SHOP, 'merchant_payable', 'KES');
  await ledger.ensureAccount(AccountIds.fees('KES'), 'fee_revenue', 'KES');
  await ledger.ensureAccount(AccountIds.operatorShare('safaricom-ke'), 'operator_share', 'KES');
  await ledger.ensureAccount(AccountIds.holds('KES'), 'holds', 'KES');
  await ledger.ensureAccount(AccountIds.carrier('safaricom-ke'), 'carrier_clearing', 'KES');
});
afterAll(async () => {
  await pool?.end();
  await stack?.cleanup();
});

describe('two-phase debits', () => {
  it('reserves, captures part, releases the rest, and books fee and share', async () => {
    await fund(A, 1_000n);
    const reserve = reserveTransfer({ id: id('res'), paymentId: 'pay-1', currency: 'KES', payerAccountId: A, amountMinor: 600n });
    expect(await ledger.apply(reserve)).toEqual({ outcome: 'applied' });
    expect(await ledger.balance(A)).toBe(400n);
    expect(await ledger.apply(reserve)).toEqual({ outcome: 'duplicate' }); // same id: nothing moves twice
    expect(await ledger.balance(A)).toBe(400n);

    const capture = captureTransfer({ id: id('cap'), reserve: reserveOf(reserve, A), payeeAccountId: SHOP, payeeMinor: 400n, feeMinor: 50n, operatorShareMinor: 50n, operatorId: 'safaricom-ke' });
    expect(await ledger.apply(capture)).toEqual({ outcome: 'applied' });
    expect(await ledger.apply(capture)).toEqual({ outcome: 'duplicate' }); // the set-based path answers repeats too
    expect(await ledger.balance(A)).toBe(500n); // 100 released, once
    expect(await ledger.balance(SHOP)).toBe(400n);
    expect(await ledger.balance(AccountIds.fees('KES'))).toBe(50n);
    expect(await ledger.balance(AccountIds.operatorShare('safaricom-ke'))).toBe(50n);
    expect(await ledger.balance(AccountIds.holds('KES'))).toBe(0n);

    // A reserve ends exactly once: a second capture or a void of it is refused.
    const again = captureTransfer({ id: id('cap'), reserve: reserveOf(reserve, A), payeeAccountId: SHOP, payeeMinor: 600n, feeMinor: 0n, operatorShareMinor: 0n, operatorId: 'safaricom-ke' });
    expect(await ledger.apply(again)).toEqual({ outcome: 'already-settled', reserveId: reserve.id });
    expect(await ledger.apply(voidTransfer(id('void'), reserveOf(reserve, A)))).toEqual({ outcome: 'already-settled', reserveId: reserve.id });
    expect(await ledger.balance(SHOP)).toBe(400n);
  });

  it('voids a reserve back to the payer', async () => {
    await fund(B, 300n);
    const reserve = reserveTransfer({ id: id('res'), paymentId: 'pay-2', currency: 'KES', payerAccountId: B, amountMinor: 300n });
    await ledger.apply(reserve);
    expect(await ledger.balance(B)).toBe(0n);
    expect(await ledger.apply(voidTransfer(id('void'), reserveOf(reserve, B)))).toEqual({ outcome: 'applied' });
    expect(await ledger.balance(B)).toBe(300n);
  });

  it('refuses to overdraw, and writes nothing of the refused transfer', async () => {
    const big = reserveTransfer({ id: id('res'), paymentId: 'pay-3', currency: 'KES', payerAccountId: B, amountMinor: 301n });
    expect(await ledger.apply(big)).toEqual({ outcome: 'insufficient-funds', accountId: B });
    expect((await pool.query('SELECT 1 FROM billing.transfers WHERE id = $1', [big.id])).rowCount).toBe(0);
    expect(await ledger.balance(B)).toBe(300n);
  });

  it('throws on a bug: an unbalanced transfer, or an id reused for another transfer', async () => {
    const bad: Transfer = { id: id('bad'), kind: 'transfer', reserveId: null, paymentId: 'x', currency: 'KES', amountMinor: 10n, postings: [{ accountId: A, amountMinor: -10n }, { accountId: SHOP, amountMinor: 9n }] };
    await expect(ledger.apply(bad)).rejects.toThrow(LedgerInvariantError);
    const first = reserveTransfer({ id: 'reused', paymentId: 'p', currency: 'KES', payerAccountId: A, amountMinor: 1n });
    await ledger.apply(first);
    await expect(ledger.apply({ ...first, amountMinor: 2n, postings: [{ accountId: A, amountMinor: -2n }, { accountId: AccountIds.holds('KES'), amountMinor: 2n }] })).rejects.toThrow(/id reused/);
  });
});

describe('batching', () => {
  it('gives each caller its own answer when a batch fails as a whole', async () => {
    const payer = AccountIds.subscriber('254711000011');
    await fund(payer, 500n);
    const good = reserveTransfer({ id: id('batch'), paymentId: 'b1', currency: 'KES', payerAccountId: payer, amountMinor: 100n });
    const orphan = reserveTransfer({ id: id('batch'), paymentId: 'b2', currency: 'KES', payerAccountId: AccountIds.subscriber('254799999999'), amountMinor: 1n });
    const [a, b] = await Promise.allSettled([ledger.apply(good), ledger.apply(orphan)]); // same tick: one batch
    expect(a).toEqual({ status: 'fulfilled', value: { outcome: 'applied' } });
    expect(b.status).toBe('rejected');
    expect(String((b as PromiseRejectedResult).reason)).toMatch(/does not exist/);
    expect(await ledger.balance(payer)).toBe(400n);
  });
});

describe('one statement per batch (apply_transfers)', () => {
  const batchOf = (transfers: readonly Transfer[]) => withTransaction(pool, 'READ COMMITTED', (client) => ledger.applyIn(client, transfers));

  it('fails a batch that debits a wallet when another of its postings is to an account in another currency, writing nothing', async () => {
    const payer = AccountIds.subscriber('254711000021');
    await fund(payer, 500n);
    const odd = AccountIds.merchant('ODD21', 'KES');
    await ledger.ensureAccount(odd, 'merchant_payable', 'XOF');
    const reserve = reserveTransfer({ id: id('odd-reserve'), paymentId: 'o1', currency: 'KES', payerAccountId: payer, amountMinor: 100n });
    const toOdd: Transfer = { id: id('odd'), kind: 'transfer', reserveId: null, paymentId: 'o2', currency: 'KES', amountMinor: 5n, postings: [{ accountId: AccountIds.carrier('safaricom-ke'), amountMinor: -5n }, { accountId: odd, amountMinor: 5n }] };
    await expect(batchOf([reserve, toOdd])).rejects.toThrow(/another currency/);
    expect(await ledger.transferAmount(reserve.id)).toBeNull();
    expect(await ledger.balance(payer)).toBe(500n);
  });

  it('fails a batch with a posting to an account that does not exist, on the fast path too', async () => {
    const capturedFrom = AccountIds.carrier('safaricom-ke');
    const good: Transfer = { id: id('fast-good'), kind: 'transfer', reserveId: null, paymentId: 'f1', currency: 'KES', amountMinor: 7n, postings: [{ accountId: capturedFrom, amountMinor: -7n }, { accountId: SHOP, amountMinor: 7n }] };
    const orphan: Transfer = { ...good, id: id('fast-orphan'), postings: [{ accountId: capturedFrom, amountMinor: -7n }, { accountId: AccountIds.merchant('NOBODY', 'KES'), amountMinor: 7n }] };
    await expect(batchOf([good, orphan])).rejects.toThrow(/does not exist/);
    expect(await ledger.transferAmount(good.id)).toBeNull();
    expect(await batchOf([good])).toEqual([{ outcome: 'applied' }]);
    expect(await batchOf([good])).toEqual([{ outcome: 'duplicate' }]);
  });
});

describe('concurrency', () => {
  it('never overspends when many payments from one MSISDN race', async () => {
    const payer = AccountIds.subscriber('254711000009');
    await fund(payer, 1_000n);
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, i) => ledger.apply(reserveTransfer({ id: id('race'), paymentId: `race-${i}`, currency: 'KES', payerAccountId: payer, amountMinor: 100n }))),
    );
    expect(outcomes.filter((o) => o.outcome === 'applied')).toHaveLength(10);
    expect(outcomes.filter((o) => o.outcome === 'insufficient-funds')).toHaveLength(40);
    expect(await ledger.balance(payer)).toBe(0n);
  });

  it('takes concurrent captures into one hot merchant without a lock on it', async () => {
    const payer = AccountIds.subscriber('254711000010');
    await fund(payer, 100_000n);
    const reserves: Transfer[] = [];
    for (let i = 0; i < 100; i++) {
      const r = reserveTransfer({ id: id('hot'), paymentId: `hot-${i}`, currency: 'KES', payerAccountId: payer, amountMinor: 1_000n });
      await ledger.apply(r);
      reserves.push(r);
    }
    const before = await ledger.balance(SHOP);
    const outcomes = await Promise.all(reserves.map((r) =>
      ledger.apply(captureTransfer({ id: id('hotcap'), reserve: reserveOf(r, payer), payeeAccountId: SHOP, payeeMinor: 1_000n, feeMinor: 0n, operatorShareMinor: 0n, operatorId: 'safaricom-ke' })),
    ));
    expect(outcomes.every((o) => o.outcome === 'applied')).toBe(true);
    expect((await ledger.balance(SHOP)) - before).toBe(100_000n);
    // The merchant has no balance row to contend on: only postings.
    expect((await pool.query<{ balance_minor: string | null }>('SELECT balance_minor FROM billing.accounts WHERE id = $1', [SHOP])).rows[0]?.balance_minor).toBeNull();
  });
});

describe('in the caller\'s transaction (applyIn, ensureAccountsIn)', () => {
  it('books with the caller\'s other writes, in one statement, and rolls back with them; an account remembered only once committed', async () => {
    const payer = AccountIds.subscriber('254711000090');
    await fund(payer, 3_000n);
    const fresh = AccountIds.merchant('FRESH', 'KES');
    const first = reserveTransfer({ id: id('in-r'), paymentId: 'p-in', currency: 'KES', payerAccountId: payer, amountMinor: 1_000n });
    const second = reserveTransfer({ id: id('in-r'), paymentId: 'p-in', currency: 'KES', payerAccountId: payer, amountMinor: 5_000n });
    await expect(withTransaction(pool, 'READ COMMITTED', async (client) => {
      await ledger.ensureAccountsIn(client, [{ id: fresh, kind: 'merchant_payable', currency: 'KES' }]);
      // Asked for side by side: one statement, one outcome each (the second overdraws the payer).
      expect(await Promise.all([ledger.applyIn(client, [first]), ledger.applyIn(client, [second])])).toEqual([[{ outcome: 'applied' }], [{ outcome: 'insufficient-funds', accountId: payer }]]);
      throw new Error('the caller fails after booking');
    })).rejects.toThrow('the caller fails');
    expect(await ledger.transferAmount(first.id)).toBeNull(); // rolled back with the caller
    expect(await ledger.balance(payer)).toBe(3_000n);
    await expect(ledger.balance(fresh)).rejects.toThrow(/no account/);
    // Not remembered as existing: the next transaction creates it and can book to it.
    await withTransaction(pool, 'READ COMMITTED', async (client) => {
      await ledger.ensureAccountsIn(client, [{ id: fresh, kind: 'merchant_payable', currency: 'KES' }]);
      expect(await ledger.applyIn(client, [first])).toEqual([{ outcome: 'applied' }]);
    });
    expect(await ledger.balance(fresh)).toBe(0n);
    expect(await ledger.balance(payer)).toBe(2_000n);
  });
});

it('reads back sound: postings sum to zero, every transfer balances, balances match postings', async () => {
  expect(await ledger.check()).toEqual({ postingsSumMinor: 0n, unbalancedTransfers: 0, driftedBalances: 0, negativeBalances: 0 });
  const statement = await ledger.statement(A);
  expect(statement.length).toBeLessThanOrEqual(5);
  expect(statement[0]?.transferId).toBe('reused'); // newest first
});
