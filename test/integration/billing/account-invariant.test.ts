// The harness's "no stranded money" invariant (load-tests/harness/invariants.ts,
// checkAccounts) against a real ledger: it passes on money that sits where a
// flow reads it (a wallet, a merchant payable), and fails when money rests in
// an account no flow reads, when a transit account (holds) does not end at
// zero, and when a subscriber account is not a number some operator serves.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, migrateSchemas, type Pool } from '../../../runtime/pg/index.js';
import { Ledger } from '../../../services/billing/ledger/store.js';
import { AccountIds, ACCOUNT_READERS, captureTransfer, depositTransfer, reserveTransfer, settlementTransfer, voidTransfer } from '../../../services/billing/ledger/rules.js';
import { checkAccounts } from '../../../load-tests/harness/invariants.js';
import { setupStack, quietLogger, type Stack } from '../../support/stack.js';

const log = quietLogger();
const OPERATORS = [{ id: 'ke', numberRanges: ['254'] }, { id: 'sn', numberRanges: ['221'] }];
let stack: Stack;
let pool: Pool;
let ledger: Ledger;
let n = 0;
const id = (prefix: string) => `${prefix}-${++n}`;

async function verdicts(): Promise<Record<string, boolean>> {
  return Object.fromEntries((await checkAccounts(pool, OPERATORS)).map((c) => [c.name, c.ok]));
}
const OWNED = 'every subscriber account belongs to a subscriber who can spend it';
const READ = 'money rests only in accounts some flow reads';

beforeAll(async () => {
  stack = await setupStack();
  await migrateSchemas(stack.databaseUrl, [{ schema: 'billing', dir: fileURLToPath(new URL('../../../services/billing/migrations/', import.meta.url)) }], log);
  pool = createPool({ url: stack.databaseUrl, poolSizeMax: 4, connectTimeoutMs: 5_000, statementTimeoutMs: 10_000, applicationName: 'test' }, log);
  ledger = new Ledger(pool);
  for (const [account, kind] of [
    [AccountIds.carrier('safaricom-ke'), 'carrier_clearing'], [AccountIds.holds('KES'), 'holds'], [AccountIds.merchant('SHOP42', 'KES'), 'merchant_payable'],
    ['suspense:KES', 'suspense'],
  ] as const) await ledger.ensureAccount(account, kind, 'KES');
});
afterAll(async () => {
  await pool?.end();
  await stack?.cleanup();
});

describe('no stranded money (checkAccounts)', () => {
  it('names a reader, or none, for every kind of account', () => {
    expect(ACCOUNT_READERS.subscriber.readBy).toMatch(/BAL/);
    expect(ACCOUNT_READERS.suspense.readBy).toBeNull();
    expect(ACCOUNT_READERS.holds.endsAtZero).toBe(true);
  });

  it('passes when a transfer received sits in the payee\'s wallet and a payment in the merchant payable', async () => {
    const payee = AccountIds.subscriber('254700000003');
    await ledger.ensureAccount(payee, 'subscriber', 'KES');
    // A SEND charged to the payer's carrier account: carrier -> holds -> payee's wallet.
    const reserve = reserveTransfer({ id: id('reserve'), paymentId: id('p'), currency: 'KES', payerAccountId: AccountIds.carrier('safaricom-ke'), amountMinor: 2_000n });
    expect(await ledger.apply(reserve)).toEqual({ outcome: 'applied' });
    const reserveRef = { id: reserve.id, paymentId: reserve.paymentId, currency: 'KES', amountMinor: 2_000n, payerAccountId: AccountIds.carrier('safaricom-ke') };
    expect(await ledger.apply(captureTransfer({ id: id('capture'), reserve: reserveRef, payeeAccountId: payee, payeeMinor: 2_000n, feeMinor: 0n, operatorShareMinor: 0n, operatorId: 'safaricom-ke' }))).toEqual({ outcome: 'applied' });
    expect(await verdicts()).toEqual({ [OWNED]: true, [READ]: true });
  });

  it('fails while money rests in an account no flow reads, and passes once it is moved on', async () => {
    const stranded = settlementTransfer({ id: id('to-suspense'), windowId: 'w', currency: 'KES', amountMinor: 500n, fromAccountId: AccountIds.carrier('safaricom-ke'), toAccountId: 'suspense:KES' });
    expect(await ledger.apply(stranded)).toEqual({ outcome: 'applied' });
    const failed = await checkAccounts(pool, OPERATORS);
    expect(failed.find((c) => c.name === READ)).toMatchObject({ ok: false, detail: expect.stringContaining('suspense:KES suspense 500') });
    await ledger.apply(settlementTransfer({ id: id('from-suspense'), windowId: 'w', currency: 'KES', amountMinor: 500n, fromAccountId: 'suspense:KES', toAccountId: AccountIds.merchant('SHOP42', 'KES') }));
    expect((await verdicts())[READ]).toBe(true);
  });

  it('fails while a hold is left over, and passes once it is voided', async () => {
    const payer = AccountIds.subscriber('254700000004');
    await ledger.ensureAccount(payer, 'subscriber', 'KES');
    await ledger.apply(depositTransfer(id('dep'), 'safaricom-ke', payer, 'KES', 300n));
    const reserve = reserveTransfer({ id: id('reserve'), paymentId: id('p'), currency: 'KES', payerAccountId: payer, amountMinor: 300n });
    await ledger.apply(reserve);
    expect((await verdicts())[READ]).toBe(false);
    await ledger.apply(voidTransfer(id('void'), { id: reserve.id, paymentId: reserve.paymentId, currency: 'KES', amountMinor: 300n, payerAccountId: payer }));
    expect((await verdicts())[READ]).toBe(true);
  });

  it('fails on a subscriber account that is not a number some operator serves', async () => {
    for (const account of [AccountIds.subscriber('33612345678'), 'subscriber:+254700000005', 'subscriber:shop']) {
      await ledger.ensureAccount(account, 'subscriber', 'KES');
      const owned = (await checkAccounts(pool, OPERATORS)).find((c) => c.name === OWNED);
      expect(owned, account).toMatchObject({ ok: false, detail: expect.stringContaining(account) });
      await pool.query('DELETE FROM billing.accounts WHERE id = $1', [account]);
    }
    // An account named like a wallet but of another kind is nobody's wallet either.
    await ledger.ensureAccount('subscriber:254700000006', 'carrier_clearing', 'KES');
    expect((await verdicts())[OWNED]).toBe(false);
    await pool.query('DELETE FROM billing.accounts WHERE id = $1', ['subscriber:254700000006']);
    expect(await verdicts()).toEqual({ [OWNED]: true, [READ]: true });
  });
});
