// Recovery paths of the debit service, driven directly against real
// Postgres: a claim whose reserve never completed is released and refused by
// the sweep; a redelivered reserve never settles "reserved" over a hold that an
// earlier, refused delivery already released.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPool, migrateSchemas, type Pool } from '../../../runtime/pg/index.js';
import { moneyToProto } from '../../../proto/index.js';
import { DebitService, SimulatedCarrier } from '../../../services/billing/index.js';
import { Ledger } from '../../../services/billing/ledger/store.js';
import { AccountIds, reserveTransfer, voidTransfer } from '../../../services/billing/ledger/rules.js';
import { setupStack, quietLogger, type Stack } from '../../support/stack.js';

const log = quietLogger();
let stack: Stack;
let pool: Pool;
let ledger: Ledger;
let debits: DebitService;
const carrier = new SimulatedCarrier({ openingBalanceMinor: 100_000n });

async function claim(debitId: string, msisdn: string, amountMinor: bigint, ageMs = 0): Promise<void> {
  await pool.query(
    `INSERT INTO billing.debits (debit_id, payment_id, operator_id, msisdn, currency, amount_minor, payer_account_id, adapter, state, updated_at)
     VALUES ($1, $2, 'safaricom-ke', $3, 'KES', $4, $5, 'simulator', 'reserving', now() - ($6::bigint * interval '1 millisecond'))`,
    [debitId, `p-${debitId}`, msisdn, amountMinor.toString(), AccountIds.carrier('safaricom-ke'), ageMs],
  );
}

async function state(debitId: string): Promise<string> {
  return (await pool.query<{ state: string }>('SELECT state FROM billing.debits WHERE debit_id = $1', [debitId])).rows[0]?.state ?? '';
}

beforeAll(async () => {
  stack = await setupStack();
  await migrateSchemas(stack.databaseUrl, [{ schema: 'billing', dir: fileURLToPath(new URL('../../../services/billing/migrations/', import.meta.url)) }], log);
  pool = createPool({ url: stack.databaseUrl, poolSizeMax: 4, connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, applicationName: 'test' }, log);
  ledger = new Ledger(pool);
  await ledger.ensureAccount(AccountIds.carrier('safaricom-ke'), 'carrier_clearing', 'KES');
  await ledger.ensureAccount(AccountIds.holds('KES'), 'holds', 'KES');
  debits = new DebitService({
    pool, ledger, operators: new Map(stack.config.operators.map((o) => [o.id, o])), adapterFor: () => carrier, log,
  });
});
afterAll(async () => {
  await pool?.end();
  await stack?.cleanup();
});

it('releases and refuses a claim whose reserve never completed', async () => {
  const msisdn = '254755000001';
  await carrier.reserve({ debitId: 'stale-1', msisdn, currency: 'KES', amountMinor: 4_000n, description: '' });
  await claim('stale-1', msisdn, 4_000n, 10 * 60_000);
  await ledger.apply(reserveTransfer({ id: 'reserve:stale-1', paymentId: 'p-stale-1', currency: 'KES', payerAccountId: AccountIds.carrier('safaricom-ke'), amountMinor: 4_000n }));
  await claim('fresh-1', '254755000002', 1_000n, 0); // young: left alone
  expect(await debits.resolveStaleClaims(5 * 60_000)).toBe(1);
  expect(await state('stale-1')).toBe('refused');
  expect(await state('fresh-1')).toBe('reserving');
  expect(carrier.balanceOf(msisdn)).toBe(100_000n); // released at the carrier
  expect(await ledger.balance(AccountIds.holds('KES'))).toBe(0n); // and in the ledger
});

it('does not settle "reserved" over a hold an earlier refused delivery released', async () => {
  const msisdn = '254755000003';
  const debitId = 'relapse-1';
  // What an earlier delivery left: the carrier holds it, the ledger booked and then released the hold.
  await carrier.reserve({ debitId, msisdn, currency: 'KES', amountMinor: 2_500n, description: '' });
  await claim(debitId, msisdn, 2_500n);
  const reserve = { id: `reserve:${debitId}`, paymentId: `p-${debitId}`, currency: 'KES', amountMinor: 2_500n, payerAccountId: AccountIds.carrier('safaricom-ke') };
  await ledger.apply(reserveTransfer(reserve));
  await ledger.apply(voidTransfer(`void:${debitId}`, reserve));
  await debits.reserve({ debitId, paymentId: `p-${debitId}`, operatorId: 'safaricom-ke', msisdn, amount: moneyToProto({ amountMinor: 2_500n, currency: 'KES' }) });
  expect(await state(debitId)).toBe('refused');
  expect(carrier.balanceOf(msisdn)).toBe(100_000n);
  expect(await ledger.check()).toEqual({ postingsSumMinor: 0n, unbalancedTransfers: 0, driftedBalances: 0, negativeBalances: 0 });
});
