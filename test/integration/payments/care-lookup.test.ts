// Customer care's lookups through the whole simulated stack: after a completed SEND, a payment
// failed by wrong codes and one left open, `dialpay subscriber show` prints the subscriber's tier,
// PIN state, wallet, what is held, the open payment and the movements with their references
// (counterparties masked), and `dialpay payment show` the payment's states in order, its balanced
// ledger transfers and its debit at the carrier. Both read in a read-only transaction, log one
// line naming the agent and none of the data, and refuse to run without the agent's name.
// payments.payment_history records every transition and refuses to be changed.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { readOnlyTransaction } from '../../../runtime/pg/index.js';
import { runTs } from '../../support/child.js';
import { waitFor } from '../../support/stack.js';
import { startPaymentsStack, type PaymentsStack } from '../../support/payments-stack.js';

let s: PaymentsStack;
let configPath: string;
const PAYER = '254700000631';
const PAYEE = '254700000632';
const PAYER_MASKED = '2547******31';
const PAYEE_MASKED = '2547******32';
const ids = { sent: '', returned: '', failed: '', open: '' };

const code = (challenge: string) => /YES (\d{4})/.exec(challenge)?.[1] as string;
/** A code that is not this one. */
const wrong = (right: string, n: number) => String((Number(right) + n) % 10_000).padStart(4, '0');
const lastPaymentOf = async (msisdn: string) => (await s.pool.query<{ payment_id: string }>(
  'SELECT payment_id FROM payments.payments WHERE payer_msisdn = $1 ORDER BY created_at DESC LIMIT 1', [msisdn])).rows[0]?.payment_id as string;
const stateOf = async (id: string) => (await s.pool.query<{ state: string; void_confirmed: boolean }>(
  'SELECT state, void_confirmed FROM payments.payments WHERE payment_id = $1', [id])).rows[0];

async function cli(...args: string[]) {
  const child = runTs('cli/dialpay.ts', [...args, '--config', configPath]);
  return { code: await child.exited(), stdout: child.stdout(), stderr: child.stderr() };
}

beforeAll(async () => {
  s = await startPaymentsStack(new SimulatedCarrier({ openingBalanceMinor: 100_000_000n }));
  configPath = join(mkdtempSync(join(tmpdir(), 'dialpay-care-')), 'dialpay.yaml');
  writeFileSync(configPath, stringify(s.stack.rawConfig));

  // Completed: 150.00 from the payer's carrier account to the payee's wallet; 40.00 of it sent back to the payer's wallet.
  const send = await s.ask(PAYER, 'SEND 0700000632 150');
  expect(await s.ask(PAYER, `YES ${code(send)}`)).toMatch(/^Paid 150\.00 KES to \+254700000632/);
  ids.sent = await lastPaymentOf(PAYER);
  await waitFor('SEND completed', async () => (await stateOf(ids.sent))?.state === 'completed');
  await waitFor('payee told', async () => s.sim.submitted.some((m) => m.destination === PAYEE && m.text.startsWith('Received 150.00 KES')));
  const back = await s.ask(PAYEE, 'SEND 0700000631 40');
  expect(back).toMatch(/From your dialpay wallet/);
  expect(await s.ask(PAYEE, `YES ${code(back)}`)).toMatch(/^Paid 40\.00 KES/);
  ids.returned = await lastPaymentOf(PAYEE);
  await waitFor('SEND back completed', async () => (await stateOf(ids.returned))?.state === 'completed');

  // Failed: three wrong codes; its wallet hold is voided.
  const failing = await s.ask(PAYER, 'PAY SHOP42 7');
  expect(failing).toMatch(/From your dialpay wallet/);
  ids.failed = await lastPaymentOf(PAYER);
  expect(await s.ask(PAYER, `YES ${wrong(code(failing), 1)}`)).toBe('Wrong code. 2 attempt(s) left.');
  expect(await s.ask(PAYER, `YES ${wrong(code(failing), 2)}`)).toBe('Wrong code. 1 attempt(s) left.');
  expect(await s.ask(PAYER, `YES ${wrong(code(failing), 3)}`)).toMatch(/failed: wrong code 3 times/);
  await waitFor('failed payment voided', async () => (await stateOf(ids.failed))?.void_confirmed === true);

  // Open: challenged and unanswered, 12.00 held from the wallet.
  expect(await s.ask(PAYER, 'PAY SHOP42 12 box')).toMatch(/^Pay 12\.00 KES to Duka Ya Mama \(SHOP42\)/);
  ids.open = await lastPaymentOf(PAYER);
  await waitFor('open payment challenged', async () => (await stateOf(ids.open))?.state === 'challenged');
}, 180_000);

afterAll(async () => {
  await s?.cleanup();
}, 60_000);

describe('dialpay subscriber show', () => {
  it('prints tier, PIN state, wallet and held amounts, the open payment and the movements with references; counterparties masked', async () => {
    const r = await cli('subscriber', 'show', '--operator', 'safaricom-ke', '--msisdn', '0700000631', '--by', 'agent-42');
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toContain('Subscriber +254700000631 (safaricom-ke), with dialpay since ');
    expect(out).toContain('KYC tier: 0\n');
    expect(out).toContain('Blocked: no (may pay, send and withdraw)\n');
    expect(out).toContain('PIN: not set; one-time codes: accepted\n');
    // 40.00 received, 12.00 of it held for the open payment.
    expect(out).toContain('Wallet: 28.00 KES available; held: 12.00 KES for 1 payment(s) (from the wallet 12.00 KES, at the carrier 0.00 KES)\n');
    expect(out).toMatch(new RegExp(`Open payments \\(1\\):\\n  ${ids.open}  challenged  12\\.00 KES to merchant SHOP42  by sms  ref "box"  age \\d+s\\n`));
    expect(out).not.toContain(ids.failed.slice(0, 8) + '  challenged');
    const movements = out.slice(out.indexOf('movement(s)')).split('\n').slice(1).filter(Boolean);
    expect(movements).toEqual([
      expect.stringMatching(new RegExp(`^  \\S+Z  \\+40\\.00 KES  ${escape(PAYEE_MASKED)}  payment ${ids.returned}$`)),
      expect.stringMatching(new RegExp(`^  \\S+Z  -150\\.00 KES  ${escape(PAYEE_MASKED)}  payment ${ids.sent}$`)),
    ]);
    expect(out).not.toContain(PAYEE);
  }, 60_000);

  it('--json: the same facts, amounts exact in minor units; the PIN of a locked subscriber reads "locked"', async () => {
    const r = await cli('subscriber', 'show', '--operator', 'safaricom-ke', '--msisdn', `+${PAYER}`, '--by', 'agent-42', '--json', '--last', '1');
    expect(r.code).toBe(0);
    const view = JSON.parse(r.stdout);
    expect(view).toMatchObject({
      msisdn: PAYER, operatorId: 'safaricom-ke', known: true, kycTier: 0, blocked: null, pin: { state: 'not set', wrongInARow: 0 }, codesLockedUntil: null,
      wallet: { currency: 'KES', balanceMinor: '2800', heldMinor: '1200', holds: [{ paymentId: ids.open, amountMinor: '1200', funding: 'wallet', state: 'reserved' }] },
      openPayments: [{ paymentId: ids.open, state: 'challenged', channel: 'sms', payee: 'merchant SHOP42', amountMinor: '1200', reference: 'box' }],
    });
    expect(view.movements).toEqual([
      { paymentId: ids.returned, reference: '', amountMinor: '4000', counterparty: PAYEE_MASKED, at: expect.any(String) },
    ]);
    await s.pool.query("UPDATE payments.subscribers SET pin_hash = 'not-a-real-hash', pin_failures = 3, pin_locked = true WHERE msisdn = $1", [PAYEE]);
    const payee = JSON.parse((await cli('subscriber', 'show', '--operator', 'safaricom-ke', '--msisdn', PAYEE, '--by', 'agent-42', '--json')).stdout);
    expect(payee.pin).toEqual({ state: 'locked', wrongInARow: 3 });
    expect(payee.wallet.balanceMinor).toBe('11000');
    expect(payee.movements.map((m: { amountMinor: string; counterparty: string }) => [m.amountMinor, m.counterparty]))
      .toEqual([['-4000', PAYER_MASKED], ['15000', PAYER_MASKED]]);
    expect(JSON.stringify(payee)).not.toContain('not-a-real-hash');
  }, 60_000);

  it('logs one line naming the agent, the command and the masked number, and none of what it read', async () => {
    const r = await cli('subscriber', 'show', '--operator', 'safaricom-ke', '--msisdn', PAYER, '--by', 'agent-42');
    const lines = r.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(lines).toEqual([expect.objectContaining({
      msg: 'customer care lookup', by: 'agent-42', command: 'subscriber show', operator: 'safaricom-ke', msisdn: PAYER_MASKED, found: true,
    })]);
    expect(r.stderr).not.toContain(PAYER);
    expect(r.stderr).not.toContain(PAYEE);
    expect(r.stderr).not.toMatch(/28\.00|2800|box|SHOP42/);
  }, 60_000);

  it('refuses without --by (EX_USAGE, nothing read or logged); a number never seen, or not the operator\'s, is said so', async () => {
    const noAgent = await cli('subscriber', 'show', '--operator', 'safaricom-ke', '--msisdn', PAYER);
    expect(noAgent.code).toBe(64);
    expect(noAgent.stderr).toContain('--by AGENT is required');
    expect(noAgent.stdout).toBe('');
    const blankAgent = await cli('subscriber', 'show', '--operator', 'safaricom-ke', '--msisdn', PAYER, '--by', ' ');
    expect(blankAgent.code).toBe(64);
    const unknown = await cli('subscriber', 'show', '--operator', 'safaricom-ke', '--msisdn', '0700000639', '--by', 'agent-42');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('+254700000639 is not known to dialpay: no subscriber record, no wallet, no movement');
    expect(unknown.stdout).toBe('');
    const otherOperator = await cli('subscriber', 'show', '--operator', 'safaricom-ke', '--msisdn', '+221770000631', '--by', 'agent-42');
    expect(otherOperator.code).toBe(64);
    expect(otherOperator.stderr).toContain('"+221770000631" is not a phone number of safaricom-ke');
    const tooMany = await cli('subscriber', 'show', '--operator', 'safaricom-ke', '--msisdn', PAYER, '--by', 'agent-42', '--last', '101');
    expect(tooMany.code).toBe(64);
  }, 90_000);
});

describe('dialpay payment show', () => {
  it('prints the completed payment: states in order, balanced transfers, the carrier debit; every number masked', async () => {
    const r = await cli('payment', 'show', '--payment', ids.sent, '--by', 'agent-42');
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toContain(`Payment ${ids.sent} (sms, safaricom-ke -> safaricom-ke)\n  payer ${PAYER_MASKED} -> subscriber ${PAYEE_MASKED}\n`);
    expect(out).toContain('  amount 150.00 KES, fee 0.00 KES, payee gets 150.00 KES; funding carrier\n');
    const states = [...out.matchAll(/^ {2}\S+Z {2}(\S+) -> (\S+)$/gm)].map((m) => `${m[1]}>${m[2]}`);
    expect(states).toEqual(['(new)>reserving', 'reserving>challenged', 'challenged>capturing', 'capturing>completed']);
    expect(out).toMatch(new RegExp(`reserve:${ids.sent}  reserve  150\\.00 KES  balanced\\n {6}-150\\.00 KES  carrier:safaricom-ke\\n {6}\\+150\\.00 KES  holds:KES\\n`));
    expect(out).toMatch(new RegExp(`capture:${ids.sent}  capture  150\\.00 KES  balanced\\n`));
    expect(out).toContain(`Net per account:\n  carrier:safaricom-ke  -150.00 KES\n  holds:KES  0.00 KES\n  subscriber:${PAYEE_MASKED}  +150.00 KES\n`);
    expect(out).toMatch(/Carrier debit: carrier via simulator, captured; reserved 150\.00 KES, captured 150\.00 KES; carrier ref -; detail -;/);
    // The SMS as SMS_SENT recorded them: which, through which operator, the SMSC's ids; no text, no number.
    const sms = out.slice(out.indexOf('SMS the SMSC took'), out.indexOf('Not kept:')).split('\n').slice(1).filter(Boolean);
    expect(sms.map((l) => l.split(/ {2}/)[2]).sort()).toEqual(['challenge-sms', 'receipt-payee', 'receipt-payer']);
    for (const line of sms) expect(line).toMatch(/^ {2}\S+Z {2}\S+ {2}via safaricom-ke {2}SMSC id\(s\) \S+$/);
    expect(out).toContain('delivery receipts: notifications on core NATS (DeliveryReceipt), stored nowhere');
    expect(out).not.toContain(PAYER);
    expect(out).not.toContain(PAYEE);
  }, 60_000);

  it('--json of the failed payment: its states, the reserve and void summing to nothing, the voided debit', async () => {
    const r = await cli('payment', 'show', ids.failed, '--by', 'agent-42', '--json');
    expect(r.code).toBe(0);
    const view = JSON.parse(r.stdout);
    expect(view.payment).toMatchObject({
      paymentId: ids.failed, state: 'failed', failureReason: 'wrong-code', payerMsisdn: PAYER_MASKED, payeeKind: 'merchant', payeeId: 'SHOP42',
      amountMinor: '700', funding: 'wallet', challengeAttempts: 3,
    });
    expect(view.payment).not.toHaveProperty('challengeCodeHash');
    expect(view.states.map((h: { from: string | null; to: string }) => [h.from, h.to]))
      .toEqual([[null, 'reserving'], ['reserving', 'challenged'], ['challenged', 'failed']]);
    expect(view.states[2].failureReason).toBe('wrong-code');
    type Transfer = { id: string; kind: string; amountMinor: string; balanced: boolean };
    expect(view.transfers.map((t: Transfer) => [t.id, t.kind, t.amountMinor, t.balanced]))
      .toEqual([[`reserve:${ids.failed}`, 'reserve', '700', true], [`void:${ids.failed}`, 'void', '700', true]]);
    expect(view.netByAccount).toEqual({ [`subscriber:${PAYER_MASKED}`]: '0', 'holds:KES': '0' });
    expect(view.carrierDebit).toMatchObject({ funding: 'wallet', state: 'voided', amountMinor: '700', capturedMinor: '0' });
    expect(view.sms.sms.map((x: { what: string }) => x.what)).toEqual(['challenge-sms', 'retry-1', 'retry-2', 'failed-sms']);
    expect(view.sms.truncated).toBe(false);
    expect(view.notKept.length).toBeGreaterThan(0);
  }, 60_000);

  it('an unknown payment is said so (exit 1); no --by is EX_USAGE; the log line names the agent and the payment only', async () => {
    const unknown = await cli('payment', 'show', '--payment', 'no-such-payment', '--by', 'agent-42');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('dialpay: no payment no-such-payment');
    const noAgent = await cli('payment', 'show', '--payment', ids.sent);
    expect(noAgent.code).toBe(64);
    expect(noAgent.stdout).toBe('');
    const r = await cli('payment', 'show', '--payment', ids.open, '--by', 'agent-43');
    expect(r.stdout).toMatch(/state challenged; challenge code \(0 wrong answer\(s\)\)/);
    const lines = r.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    expect(lines).toEqual([expect.objectContaining({
      msg: 'customer care lookup', by: 'agent-43', command: 'payment show', paymentId: ids.open, found: true,
    })]);
    expect(r.stderr).not.toMatch(/254700000631|SHOP42|1200|12\.00/);
  }, 60_000);
});

describe('read-only and audited', () => {
  it('the lookups\' transaction refuses any write, and the lookups change nothing', async () => {
    await expect(readOnlyTransaction(s.pool, (c) => c.query('UPDATE payments.subscribers SET kyc_tier = 1 WHERE msisdn = $1', [PAYER])))
      .rejects.toThrow(/read-only transaction/);
    await expect(readOnlyTransaction(s.pool, (c) => c.query('DELETE FROM billing.postings'))).rejects.toThrow(/read-only transaction/);
    const snapshot = async () => (await s.pool.query(
      `SELECT (SELECT max(updated_at) FROM payments.subscribers) AS subscribers, (SELECT max(updated_at) FROM payments.payments) AS payments,
              (SELECT count(*) FROM billing.postings) AS postings, (SELECT count(*) FROM payments.payment_history) AS history`)).rows[0];
    const before = await snapshot();
    await cli('subscriber', 'show', '--operator', 'safaricom-ke', '--msisdn', PAYER, '--by', 'agent-42');
    await cli('payment', 'show', '--payment', ids.open, '--by', 'agent-42');
    expect(await snapshot()).toEqual(before);
    expect(await stateOf(ids.open)).toEqual({ state: 'challenged', void_confirmed: false });
  }, 60_000);

  it('payment_history has every transition of each payment in order, and refuses UPDATE, DELETE and TRUNCATE', async () => {
    const history = async (id: string) => (await s.pool.query<{ from_state: string | null; to_state: string; challenge_attempts: number }>(
      'SELECT from_state, to_state, challenge_attempts FROM payments.payment_history WHERE payment_id = $1 ORDER BY id', [id])).rows;
    expect(await history(ids.returned)).toEqual([
      { from_state: null, to_state: 'reserving', challenge_attempts: 0 },
      { from_state: 'reserving', to_state: 'challenged', challenge_attempts: 0 },
      { from_state: 'challenged', to_state: 'capturing', challenge_attempts: 0 },
      { from_state: 'capturing', to_state: 'completed', challenge_attempts: 0 },
    ]);
    // Wrong answers that kept it challenged are no transition; the third failed it.
    expect((await history(ids.failed)).map((h) => [h.to_state, h.challenge_attempts])).toEqual([['reserving', 0], ['challenged', 0], ['failed', 3]]);
    await expect(s.pool.query('UPDATE payments.payment_history SET to_state = $2 WHERE payment_id = $1', [ids.sent, 'failed']))
      .rejects.toThrow(/append-only \(UPDATE refused\)/);
    await expect(s.pool.query('DELETE FROM payments.payment_history WHERE payment_id = $1', [ids.sent])).rejects.toThrow(/append-only \(DELETE refused\)/);
    await expect(s.pool.query('TRUNCATE payments.payment_history')).rejects.toThrow(/append-only \(TRUNCATE refused\)/);
    expect(await history(ids.sent)).toHaveLength(4);
  }, 30_000);
});

function escape(text: string): string {
  return text.replace(/[*+?^${}()|[\]\\]/g, '\\$&');
}
