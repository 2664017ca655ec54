// Blocking a line (blocks.ts, `dialpay subscriber block` / `unblock`) end to end, through the simulated
// SMSC, the gateway, payments and billing: the subscriber is told by SMS; a blocked line is refused every
// way money leaves it (PAY, SEND, WITHDRAW, AIRTIME by SMS, a payment on the USSD menu) with nothing
// reserved or booked, yet still receives a transfer and reads BAL; once unblocked it pays again. A payment
// the line was asked to confirm before the block ends unpaid when confirmed after it. Each change is a row
// of payments.subscriber_block_changes, which the database will not let anyone change or remove.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { AccountIds } from '../../../services/billing/ledger/rules.js';
import { blockSubscriber, readCareSubscriber, unblockSubscriber } from '../../../services/payments/index.js';
import { runTs } from '../../support/child.js';
import { startPaymentsStack, type PaymentsStack } from '../../support/payments-stack.js';
import { waitFor } from '../../support/stack.js';
import { UssdPhone } from '../../support/ussd-phone.js';

let s: PaymentsStack;
let configPath: string;
let ussdPort = 0;
const carrier = new SimulatedCarrier({ openingBalanceMinor: 1_000_000n });
const PHONE = '254700000631';
const FRIEND = '254700000632';
const ORANGE_PHONE = '221770000631';
const BLOCKED_EN = 'Your dialpay account is blocked: you cannot pay, send or withdraw money. Nothing was charged. Please contact customer care.';
const BLOCKED_FR = 'Votre compte dialpay est bloque: impossible de payer, envoyer ou retirer. Rien n a ete debite. Contactez le service client.';

beforeAll(async () => {
  s = await startPaymentsStack(carrier, (raw) => {
    ussdPort = raw.ussd.http.port;
  });
  configPath = join(mkdtempSync(join(tmpdir(), 'dialpay-block-')), 'dialpay.yaml');
  writeFileSync(configPath, stringify(s.stack.rawConfig));
}, 120_000);

afterAll(async () => {
  await s?.cleanup();
}, 60_000);

const smsCount = (phone: string) => s.sim.submitted.filter((m) => m.destination === phone).length;
const changes = async (msisdn: string) =>
  (await s.pool.query<{ operator_id: string; blocked: boolean; changed_by: string; reason: string }>(
    'SELECT operator_id, blocked, changed_by, reason FROM payments.subscriber_block_changes WHERE msisdn = $1 ORDER BY id', [msisdn])).rows;
/** The wallet's balance; 0 before billing has opened it. */
const walletMinor = async (msisdn: string) => BigInt((await s.pool.query<{ balance_minor: string }>(
  'SELECT balance_minor::text FROM billing.accounts WHERE id = $1', [AccountIds.subscriber(msisdn)])).rows[0]?.balance_minor ?? '0');
/** What a refusal must leave as it was: no payment row, no debit at the carrier, no ledger transfer, the same balances. */
const moneyState = async (msisdn: string) => ({
  payments: (await s.pool.query('SELECT 1 FROM payments.payments WHERE payer_msisdn = $1', [msisdn])).rowCount,
  debits: (await s.pool.query('SELECT 1 FROM billing.debits WHERE msisdn = $1', [msisdn])).rowCount,
  transfers: (await s.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM billing.transfers')).rows[0]?.n,
  carrierMinor: carrier.balanceOf(msisdn),
  walletMinor: await walletMinor(msisdn),
});

async function cli(...args: string[]) {
  const child = runTs('cli/dialpay.ts', ['subscriber', ...args.slice(0, 1), '--config', configPath, ...args.slice(1)]);
  return { code: await child.exited(), stdout: child.stdout(), stderr: child.stderr() };
}

it('blocked by the CLI: told by SMS; PAY, SEND, WITHDRAW, AIRTIME and USSD refused with nothing reserved; a transfer to it lands; '
  + 'unblocked: told by SMS, pays again', async () => {
  // A PIN first (the USSD menu asks for one on the first dial), while the line is not blocked.
  const first = new UssdPhone(ussdPort, PHONE);
  await first.dial();
  expect((await first.answer('2468', '2468')).text).toMatch(/^PIN saved\./);

  let seen = smsCount(PHONE);
  const blocked = await cli('block', '--operator', 'safaricom-ke', '--msisdn', '0700000631', '--by', 'agent-7', '--reason', 'lost phone, case 4411');
  expect(blocked.stderr).toBe('');
  expect(blocked.code).toBe(0);
  expect(blocked.stdout).toBe('+254700000631 blocked: it can receive but not pay, send or withdraw; told by SMS\n');
  expect(await s.nextSms(PHONE, seen)).toBe('Customer care has blocked your dialpay account: you cannot pay, send or withdraw money. '
    + 'You can still receive money and send BAL. Did not ask for this? Call customer care.');

  const before = await moneyState(PHONE);
  expect(await s.ask(PHONE, 'PAY SHOP42 100')).toBe(BLOCKED_EN);
  expect(await s.ask(PHONE, `SEND 0${FRIEND.slice(3)} 10`)).toBe(BLOCKED_EN);
  expect(await s.ask(PHONE, 'WITHDRAW AG1 100')).toBe(BLOCKED_EN);
  expect(await s.ask(PHONE, 'AIRTIME 50')).toBe(BLOCKED_EN);
  const ussd = new UssdPhone(ussdPort, PHONE);
  await ussd.dial();
  expect(await ussd.answer('1', 'SHOP42', '100', '0', '2468')).toMatchObject({ text: BLOCKED_EN, end: true });
  expect(await moneyState(PHONE)).toEqual(before);
  expect(before).toMatchObject({ payments: 0, debits: 0 });

  // Money to the blocked line still lands, and it can read it.
  const challenge = await s.ask(FRIEND, `SEND 0${PHONE.slice(3)} 200`);
  seen = smsCount(PHONE);
  expect(await s.ask(FRIEND, `YES ${/YES (\d{4})/.exec(challenge)?.[1]}`)).toMatch(/^Paid 200\.00 KES to \+254700000631/);
  expect(await s.nextSms(PHONE, seen)).toMatch(/^Received 200\.00 KES from \+254700000632\./);
  await waitFor('the transfer in the blocked wallet', async () => (await walletMinor(PHONE)) === 20_000n);
  expect(await s.ask(PHONE, 'BAL')).toMatch(/^Balance: dialpay wallet 200\.00 KES/);
  // ... but not leave it.
  const funded = await moneyState(PHONE);
  expect(await s.ask(PHONE, `SEND 0${FRIEND.slice(3)} 50`)).toBe(BLOCKED_EN);
  expect(await moneyState(PHONE)).toEqual(funded);

  // Blocking it again: unchanged, nothing recorded, no SMS.
  seen = smsCount(PHONE);
  const again = await cli('block', '--operator', 'safaricom-ke', '--msisdn', PHONE, '--by', 'agent-8', '--reason', 'duplicate ticket');
  expect([again.code, again.stdout]).toEqual([0, '+254700000631 is already blocked; unchanged, nothing recorded\n']);

  const unblocked = await cli('unblock', '--operator', 'safaricom-ke', '--msisdn', '+254700000631', '--by', 'agent-9', '--reason', 'phone found');
  expect([unblocked.code, unblocked.stdout]).toEqual([0, '+254700000631 unblocked: it can pay, send and withdraw again; told by SMS\n']);
  // The next SMS is the unblock's: the repeated block sent none.
  expect(await s.nextSms(PHONE, seen)).toBe('Customer care has unblocked your dialpay account: you can pay, send and withdraw again. '
    + 'Did not ask for this? Call customer care.');
  await s.payBySms(PHONE, 'SHOP42', '100');

  expect(await changes(PHONE)).toEqual([
    { operator_id: 'safaricom-ke', blocked: true, changed_by: 'agent-7', reason: 'lost phone, case 4411' },
    { operator_id: 'safaricom-ke', blocked: false, changed_by: 'agent-9', reason: 'phone found' },
  ]);
  const row = (await s.pool.query('SELECT blocked_at, block_reason FROM payments.subscribers WHERE msisdn = $1', [PHONE])).rows[0];
  expect(row).toEqual({ blocked_at: null, block_reason: null });
}, 120_000);

it('a payment asked for before the block and answered after it ends unpaid, its hold released', async () => {
  const phone = '254700000635';
  const challenge = await s.ask(phone, 'PAY SHOP42 100');
  const code = /YES (\d{4})/.exec(challenge)?.[1];
  expect(code).toBeDefined();
  const seen = smsCount(phone);
  expect((await blockSubscriber(s.pool, s.stack.config, { operatorId: 'safaricom-ke', msisdn: phone, by: 'agent-7', reason: 'stolen' })).kind)
    .toBe('changed');
  expect(await s.nextSms(phone, seen)).toMatch(/^Customer care has blocked/);
  expect(await s.ask(phone, `YES ${code}`)).toBe('Payment of 100.00 KES failed: cancelled. Nothing was charged.');
  const states = await s.pool.query<{ state: string }>('SELECT state FROM payments.payments WHERE payer_msisdn = $1', [phone]);
  expect(states.rows).toEqual([{ state: 'failed' }]);
  await waitFor('the hold released', async () => carrier.balanceOf(phone) === 1_000_000n);
  expect(await walletMinor(phone)).toBe(0n);
}, 60_000);

it('a USSD payment at its confirmation screen when the line is blocked ends unpaid at "1", its hold released', async () => {
  const phone = '254700000636';
  const ussd = new UssdPhone(ussdPort, phone);
  await ussd.dial();
  expect((await ussd.answer('2468', '2468')).text).toMatch(/^PIN saved\./);
  await ussd.dial();
  expect((await ussd.answer('1', 'SHOP42', '100', '0', '2468')).text).toMatch(/100\.00 KES/); // the confirmation screen
  await waitFor('the reserve held', async () => carrier.balanceOf(phone) < 1_000_000n);
  expect((await blockSubscriber(s.pool, s.stack.config, { operatorId: 'safaricom-ke', msisdn: phone, by: 'agent-7', reason: 'stolen' })).kind)
    .toBe('changed');
  expect(await ussd.answer('1')).toMatchObject({ text: BLOCKED_EN, end: true });
  const states = await s.pool.query<{ state: string; consented: boolean }>(
    'SELECT state, consented FROM payments.payments WHERE payer_msisdn = $1', [phone]);
  expect(states.rows).toEqual([{ state: 'failed', consented: false }]);
  await waitFor('the hold released', async () => carrier.balanceOf(phone) === 1_000_000n);
}, 60_000);

it('the database refuses to change or remove an audit row', async () => {
  await expect(s.pool.query('UPDATE payments.subscriber_block_changes SET blocked = false WHERE msisdn = $1', [PHONE]))
    .rejects.toThrow(/append-only \(UPDATE refused\)/);
  await expect(s.pool.query('DELETE FROM payments.subscriber_block_changes WHERE msisdn = $1', [PHONE]))
    .rejects.toThrow(/append-only \(DELETE refused\)/);
  await expect(s.pool.query('TRUNCATE payments.subscriber_block_changes')).rejects.toThrow(/append-only \(TRUNCATE refused\)/);
  expect(await changes(PHONE)).toHaveLength(2);
}, 30_000);

it('a French subscriber is told in French, and refused in French', async () => {
  const phone = '254700000633';
  expect(await s.ask(phone, 'LANGUE FR')).toBe('Langue: francais.');
  const base = { operatorId: 'safaricom-ke', msisdn: phone, by: 'agent-7', reason: 'decision de justice 2026-118' };
  let seen = smsCount(phone);
  expect(await blockSubscriber(s.pool, s.stack.config, base)).toEqual({ kind: 'changed', msisdn: phone, blocked: true });
  expect(await s.nextSms(phone, seen)).toMatch(/^Le service client a bloque votre compte dialpay/);
  expect(await s.ask(phone, 'PAYER SHOP42 100')).toBe(BLOCKED_FR);
  // What care's `subscriber show` reads says so, with the reason.
  expect((await readCareSubscriber(s.pool, phone))?.blocked).toEqual({ at: expect.any(Date), reason: base.reason });
  seen = smsCount(phone);
  expect(await unblockSubscriber(s.pool, s.stack.config, base)).toEqual({ kind: 'changed', msisdn: phone, blocked: false });
  expect(await s.nextSms(phone, seen)).toMatch(/^Le service client a debloque votre compte dialpay/);
  expect(await unblockSubscriber(s.pool, s.stack.config, base)).toEqual({ kind: 'unchanged', msisdn: phone, blocked: false });
  expect((await changes(phone)).map((c) => c.blocked)).toEqual([true, false]);
  expect((await readCareSubscriber(s.pool, phone))?.blocked).toBeNull();
}, 60_000);

it('refuses another operator\'s number, a non-number and an empty reason, writing nothing', async () => {
  const base = { operatorId: 'safaricom-ke', by: 'agent-7', reason: 'lost phone' };
  expect(await blockSubscriber(s.pool, s.stack.config, { ...base, msisdn: `+${ORANGE_PHONE}` })).toEqual({ kind: 'bad-number' });
  expect(await blockSubscriber(s.pool, s.stack.config, { ...base, msisdn: 'call me' })).toEqual({ kind: 'bad-number' });
  expect(await blockSubscriber(s.pool, s.stack.config, { ...base, msisdn: '254700000634', reason: ' ' }))
    .toEqual({ kind: 'missing', field: 'reason' });
  for (const msisdn of [ORANGE_PHONE, '254700000634']) {
    expect((await s.pool.query('SELECT 1 FROM payments.subscribers WHERE msisdn = $1', [msisdn])).rowCount).toBe(0);
    expect(await changes(msisdn)).toEqual([]);
  }
  const other = await cli('block', '--operator', 'safaricom-ke', '--msisdn', `+${ORANGE_PHONE}`, '--by', 'a', '--reason', 'b');
  expect([other.code, other.stderr]).toEqual([64, `dialpay: "+${ORANGE_PHONE}" is not a phone number of safaricom-ke\n`]);
  const noReason = await cli('unblock', '--operator', 'safaricom-ke', '--msisdn', PHONE, '--by', 'agent-9');
  expect(noReason.code).toBe(64);
  expect(noReason.stderr).toContain('dialpay subscriber unblock needs --operator ID (one of: safaricom-ke, orange-sn), --msisdn NUMBER, --by AGENT');
}, 60_000);
