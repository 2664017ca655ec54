// `dialpay payment reverse` end to end (issue 19): phones send transfers by SMS through the simulated
// SMSC, customer care runs the command, billing books the reversal in its ledger, both parties get an
// SMS. A transfer still in the payee's wallet comes back whole; one partly spent comes back in part;
// one spent entirely, one older than the window and a merchant payment are refused with nothing moved
// or written; asking twice is the same reversal; the audit tables refuse UPDATE and DELETE.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { AccountIds } from '../../../services/billing/ledger/rules.js';
import { checkAccounts } from '../../../load-tests/harness/invariants.js';
import { paymentReverse } from '../../../cli/commands/payment-reverse.js';
import { reversePayment, waitForReversal } from '../../../services/payments/index.js';
import { startPaymentsStack, type PaymentsStack } from '../../support/payments-stack.js';
import { waitFor } from '../../support/stack.js';
import { withTransaction } from '../../../runtime/pg/index.js';

const OPENING = 1_000_000n;
let p: PaymentsStack;
const smsTo = (phone: string) => p.sim.submitted.filter((m) => m.destination === phone).map((m) => m.text);
const code = (challenge: string) => /YES (\d{4})/.exec(challenge)?.[1] as string;
const wallet = (msisdn: string) => p.ledger.balance(AccountIds.subscriber(msisdn)).catch(() => 0n);
const ref = (paymentId: string) => paymentId.slice(0, 8).toUpperCase();
const today = () => {
  const d = new Date();
  return `${String(d.getUTCDate()).padStart(2, '0')}/${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
};

beforeAll(async () => {
  p = await startPaymentsStack(new SimulatedCarrier({ openingBalanceMinor: OPENING }));
}, 120_000);
afterAll(async () => {
  await p?.cleanup();
}, 60_000);

/** SEND by SMS, confirmed: resolves with the payment id once the payee's wallet holds it. */
async function send(payer: string, payee: string, amount: string): Promise<string> {
  const before = await wallet(payee);
  const challenge = await p.ask(payer, `SEND 0${payee.slice(3)} ${amount}`);
  expect(await p.ask(payer, `YES ${code(challenge)}`)).toMatch(/^Paid /);
  const id = (await p.pool.query<{ payment_id: string }>(
    'SELECT payment_id FROM payments.payments WHERE payer_msisdn = $1 ORDER BY created_at DESC LIMIT 1', [payer])).rows[0]?.payment_id as string;
  await waitFor(`payment ${id} completed`, async () => (await p.pool.query(
    `SELECT 1 FROM payments.payments WHERE payment_id = $1 AND state = 'completed'`, [id])).rowCount === 1);
  await waitFor('payee credited', async () => (await wallet(payee)) > before);
  return id;
}

/** Pays SHOP42 from the wallet by SMS. */
async function spend(phone: string, amount: string): Promise<void> {
  const challenge = await p.ask(phone, `PAY SHOP42 ${amount}`);
  expect(challenge).toMatch(/From your dialpay wallet/);
  expect(await p.ask(phone, `YES ${code(challenge)}`)).toMatch(/^Paid /);
}

/** Runs `dialpay payment reverse` as care would: what it printed and its exit code. */
async function reverse(paymentId: string, by = 'care-anna', reason = 'sent to the wrong number') {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => err.push(String(chunk)) > 0);
  try {
    await paymentReverse.run({ config: p.stack.config, configPath: '', positionals: ['payment', 'reverse'],
      values: { payment: paymentId, by, reason } });
    const exitCode = process.exitCode;
    return { out: out.join(''), err: err.join(''), code: exitCode };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
    process.exitCode = 0;
  }
}

const reversalRows = async (paymentId: string) =>
  (await p.pool.query('SELECT 1 FROM payments.reversals WHERE payment_id = $1', [paymentId])).rowCount;

describe('reversal of a transfer sent to the wrong number', () => {
  it('takes the whole transfer back when it is still in the wallet, tells both, books one linked transfer; asking again is the same', async () => {
    const [payer, payee] = ['254755100001', '254755100002'];
    const id = await send(payer, payee, '20');
    expect(await wallet(payee)).toBe(2_000n);
    const payerSms = smsTo(payer).length;
    const payeeSms = smsTo(payee).length;

    const first = await reverse(id);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(first.out).toMatch(new RegExp(`^reversed: 20\\.00 KES of transfer Ref ${ref(id)} taken back .*both told by SMS\\n$`));
    expect(await wallet(payee)).toBe(0n);
    expect(await wallet(payer)).toBe(2_000n);
    expect(await p.nextSms(payer, payerSms))
      .toBe(`20.00 KES returned to your dialpay wallet from the transfer Ref ${ref(id)} to +${payee}, reversed by customer care.`);
    expect(await p.nextSms(payee, payeeSms))
      .toBe(`20.00 KES was taken back from your dialpay wallet: transfer Ref ${ref(id)} sent to you by mistake, reversed by customer care.`);

    // One transfer, linked to the original by its id and payment id; the ledger still sums to zero.
    const { rows } = await p.pool.query(`SELECT kind, payment_id, amount_minor::text FROM billing.transfers WHERE id = $1`, [`reversal:${id}`]);
    expect(rows).toEqual([{ kind: 'reversal', payment_id: id, amount_minor: '2000' }]);
    const check = await p.ledger.check();
    expect(check.postingsSumMinor).toBe(0n);
    expect(check.unbalancedTransfers).toBe(0);
    expect(check.negativeBalances).toBe(0);
    expect((await checkAccounts(p.pool, p.stack.config.operators)).filter((c) => !c.ok)).toEqual([]);

    // Both mini statements show it with the transfer's reference.
    expect(await p.ask(payer, 'BAL')).toContain(`Last: ${today()} +20.00 KES Reversal, Ref ${ref(id)}`);
    expect(await p.ask(payee, 'BAL')).toContain(`Last: ${today()} -20.00 KES Reversal, Ref ${ref(id)}`);

    // Again: the same reversal reported, nothing moved, nobody told twice.
    const again = await reverse(id, 'care-ben', 'asked twice');
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/^already asked on \S+ by care-anna \(sent to the wrong number\); nothing asked again\. reversed: 20\.00 KES/);
    expect(await wallet(payer)).toBe(2_000n);
    expect(await wallet(payee)).toBe(0n);
    expect((await p.pool.query('SELECT count(*)::int AS n FROM billing.transfers WHERE id LIKE $1', [`reversal:${id}%`])).rows[0].n).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(smsTo(payer).filter((t) => t.includes('returned to your dialpay wallet'))).toHaveLength(1);

    // The audit trail cannot be edited, by anyone.
    await expect(p.pool.query(`UPDATE payments.reversals SET reason = 'edited' WHERE payment_id = $1`, [id]))
      .rejects.toThrow(/payments\.reversals is append-only \(UPDATE refused\)/);
    await expect(p.pool.query('DELETE FROM payments.reversals WHERE payment_id = $1', [id])).rejects.toThrow(/append-only \(DELETE refused\)/);
    await expect(p.pool.query(`UPDATE payments.reversal_outcomes SET reversed_minor = 1 WHERE payment_id = $1`, [id]))
      .rejects.toThrow(/payments\.reversal_outcomes is append-only \(UPDATE refused\)/);
    await expect(p.pool.query('DELETE FROM payments.reversal_outcomes')).rejects.toThrow(/append-only \(DELETE refused\)/);
    const audit = (await p.pool.query(
      `SELECT r.asked_minor::text, r.requested_by, r.reason, o.outcome, o.reversed_minor::text
         FROM payments.reversals r JOIN payments.reversal_outcomes o USING (payment_id) WHERE payment_id = $1`, [id])).rows;
    expect(audit).toEqual([{ asked_minor: '2000', requested_by: 'care-anna', reason: 'sent to the wrong number', outcome: 'reversed',
      reversed_minor: '2000' }]);
  });

  it('takes back what is left when the payee spent part of it, and says how much of how much', async () => {
    const [payer, payee] = ['254755100011', '254755100012'];
    const id = await send(payer, payee, '20');
    await spend(payee, '15');
    const left = await wallet(payee);
    expect(left).toBe(500n);
    const payerSms = smsTo(payer).length;

    const result = await reverse(id);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(new RegExp(`^partly reversed: 5\\.00 KES of 20\\.00 KES of transfer Ref ${ref(id)} taken back .*the rest was spent`));
    expect(await wallet(payee)).toBe(0n);
    expect(await wallet(payer)).toBe(500n);
    expect(await p.nextSms(payer, payerSms)).toBe(`5.00 KES of 20.00 KES returned to your dialpay wallet from the transfer Ref ${ref(id)} `
      + `to +${payee}, reversed by customer care: the rest had already been spent.`);
    await waitFor('payee told', async () => smsTo(payee).includes(
      `5.00 KES was taken back from your dialpay wallet: transfer Ref ${ref(id)} sent to you by mistake, reversed by customer care.`));
    const outcome = (await p.pool.query('SELECT outcome, reversed_minor::text FROM payments.reversal_outcomes WHERE payment_id = $1', [id])).rows;
    expect(outcome).toEqual([{ outcome: 'partial', reversed_minor: '500' }]);
    expect((await p.ledger.check()).postingsSumMinor).toBe(0n);
  });

  it('refuses, with nothing moved or written, when the money is gone, the transfer is too old, or it was a merchant payment', async () => {
    // Spent entirely.
    const [payer, payee] = ['254755100021', '254755100022'];
    const gone = await send(payer, payee, '20');
    await spend(payee, '20');
    expect(await wallet(payee)).toBe(0n);
    const refusedGone = await reverse(gone);
    expect(refusedGone.code).toBe(1);
    expect(refusedGone.out).toBe('');
    expect(refusedGone.err).toBe("dialpay: cannot reverse this payment: the money is gone: the payee's wallet holds nothing; nothing moved\n");
    expect(await reversalRows(gone)).toBe(0);
    expect(await wallet(payer)).toBe(0n);

    // Spent between care's look and billing's booking: billing, under the wallet's lock, finds nothing and
    // refuses; the refusal is recorded, nothing moved, nobody told; asking again reports it.
    const raced = await reversePayment(p.pool, p.stack.config, { paymentId: gone, by: 'care-anna', reason: 'race' }, async () => 1n);
    expect(raced.kind).toBe('requested');
    expect(await waitForReversal(p.pool, gone, 10_000)).toMatchObject({ outcome: 'refused', reversedMinor: 0n,
      detail: "the payee's wallet holds nothing" });
    expect(await wallet(payer)).toBe(0n);
    expect(await wallet(payee)).toBe(0n);
    expect((await p.pool.query('SELECT 1 FROM billing.transfers WHERE id = $1', [`reversal:${gone}`])).rowCount).toBe(0);
    const reported = await reverse(gone);
    expect(reported.code).toBe(1);
    expect(reported.out).toMatch(/^already asked on \S+ by care-anna \(race\); nothing asked again\. refused: the payee's wallet holds nothing; nothing moved\n$/);
    expect(smsTo(payer).filter((t) => t.includes('returned to your dialpay wallet'))).toEqual([]);

    // Older than the window (7 days by default).
    const [payer2, payee2] = ['254755100031', '254755100032'];
    const old = await send(payer2, payee2, '20');
    await p.pool.query(`UPDATE payments.payments SET created_at = now() - interval '8 days' WHERE payment_id = $1`, [old]);
    const refusedOld = await reverse(old);
    expect(refusedOld.code).toBe(1);
    expect(refusedOld.err).toBe('dialpay: cannot reverse this payment: the transfer is older than the reversal window (7 days); nothing moved\n');
    expect(await wallet(payee2)).toBe(2_000n);
    expect(await reversalRows(old)).toBe(0);

    // A merchant payment: the merchant refunds it.
    const paid = await p.payBySms('254755100041', 'SHOP42', '10');
    const refusedMerchant = await reverse(paid);
    expect(refusedMerchant.code).toBe(1);
    expect(refusedMerchant.err).toMatch(/cannot reverse this payment: a merchant payment is not reversed: the merchant refunds it/);
    expect(await reversalRows(paid)).toBe(0);

    // No such payment, and no reason given.
    expect((await reverse('00000000-0000-4000-8000-000000000000')).err).toMatch(/no such payment; nothing moved/);
    expect((await reverse(old, 'care-anna', '  ')).err).toBe('dialpay: --reason must not be empty\n');
    expect((await p.ledger.check()).postingsSumMinor).toBe(0n);
  });

  it('asks billing again for a reversal whose request was lost, and it ends once, with one SMS to each', async () => {
    const [payer, payee] = ['254755100051', '254755100052'];
    const id = await send(payer, payee, '15');
    const payment = (await p.pool.query<{ operator_id: string; currency: string; payee_minor: string }>(
      'SELECT operator_id, currency, payee_minor::text FROM payments.payments WHERE payment_id = $1', [id])).rows[0];
    // The request row with no CreditRequested behind it, asked six minutes ago: as if billing had dead-lettered it.
    await p.pool.query(
      `INSERT INTO payments.reversals (payment_id, operator_id, payer_msisdn, payee_msisdn, currency, asked_minor, requested_by, reason,
         requested_at) VALUES ($1, $2, $3, $4, $5, $6, 'care-anna', 'sent to the wrong number', now() - interval '6 minutes')`,
      [id, payment?.operator_id, payer, payee, payment?.currency, payment?.payee_minor],
    );
    const payerSms = smsTo(payer).length;
    const payeeSms = smsTo(payee).length;
    const reversal = await waitFor('reversal answered', async () => {
      const r = await waitForReversal(p.pool, id, 0);
      return r && r.outcome !== 'pending' ? r : undefined;
    });
    expect(reversal).toMatchObject({ outcome: 'reversed', reversedMinor: 1_500n });
    await waitFor('both told', async () => smsTo(payer).length > payerSms && smsTo(payee).length > payeeSms);
    expect(await wallet(payee)).toBe(0n);
    const asks = await p.pool.query<{ asks: number }>('SELECT asks FROM payments.credit_asks WHERE credit_id = $1', [`reversal-${id}`]);
    expect(asks.rows).toEqual([{ asks: 1 }]);
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // a few more sweeps: nothing asked or told again
    expect(smsTo(payer).length).toBe(payerSms + 1);
    expect(smsTo(payee).length).toBe(payeeSms + 1);
    expect((await p.pool.query('SELECT 1 FROM billing.credits WHERE credit_id = $1', [`reversal-${id}`])).rowCount).toBe(1);
  }, 60_000);

  it('locks both wallets by id as apply_transfers does: waiting on the payer\'s, it holds not the payee\'s (no deadlock)', async () => {
    const [payer, payee] = ['254755100061', '254755100062']; // subscriber:<payer> sorts first
    const id = await send(payer, payee, '10');
    await withTransaction(p.pool, 'READ COMMITTED', (client) =>
      p.ledger.ensureAccountsIn(client, [{ id: AccountIds.subscriber(payer), kind: 'subscriber', currency: 'KES' }]));
    const other = await p.pool.connect();
    try {
      const pid = (await other.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
      await other.query('BEGIN');
      // What a transfer between the two holds first (apply_transfers locks by id): the payer's wallet.
      await other.query('SELECT 1 FROM billing.accounts WHERE id = $1 FOR UPDATE', [AccountIds.subscriber(payer)]);
      const asked = await reversePayment(p.pool, p.stack.config, { paymentId: id, by: 'care-anna', reason: 'sent to the wrong number' },
        async () => 1_000n);
      expect(asked.kind).toBe('requested');
      await waitFor('billing waits for a wallet', async () => (await p.pool.query(
        `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> $1`, [pid])).rowCount === 1);
      // The payee's wallet is free: the old order held it while waiting for the payer's, and the transfer would deadlock.
      await other.query('SELECT 1 FROM billing.accounts WHERE id = $1 FOR UPDATE NOWAIT', [AccountIds.subscriber(payee)]);
      await other.query('COMMIT');
    } finally {
      await other.query('ROLLBACK').catch(() => undefined);
      other.release();
    }
    const reversal = await waitForReversal(p.pool, id, 10_000);
    expect(reversal).toMatchObject({ outcome: 'reversed', reversedMinor: 1_000n });
    expect(await wallet(payee)).toBe(0n);
  }, 60_000);
});
