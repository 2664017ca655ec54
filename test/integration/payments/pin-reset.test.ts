// `dialpay pin reset`, as customer care runs it for a subscriber whose PIN is
// locked: the PIN and its lock are cleared, the subscriber is told by SMS at
// once, and their next *384# asks them to choose a new PIN. Wrong uses of the
// command change nothing.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { runTs } from '../../support/child.js';
import { startPaymentsStack, type PaymentsStack } from '../../support/payments-stack.js';
import { UssdPhone } from '../../support/ussd-phone.js';

let s: PaymentsStack;
let configPath: string;
const PHONE = '254700000555';

beforeAll(async () => {
  s = await startPaymentsStack(new SimulatedCarrier({ openingBalanceMinor: 1_000_000n }));
  configPath = join(mkdtempSync(join(tmpdir(), 'dialpay-pin-reset-')), 'dialpay.yaml');
  writeFileSync(configPath, stringify(s.stack.rawConfig));
}, 120_000);

afterAll(async () => {
  await s?.cleanup();
}, 60_000);

const subscriber = async () =>
  (await s.pool.query<{ has_pin: boolean; pin_locked: boolean; pin_failures: number }>('SELECT pin_hash IS NOT NULL AS has_pin, pin_locked, pin_failures FROM payments.subscribers WHERE msisdn = $1', [PHONE])).rows[0];

async function pinReset(...args: string[]) {
  const child = runTs('cli/dialpay.ts', ['pin', 'reset', '--config', configPath, ...args]);
  return { code: await child.exited(), stdout: child.stdout(), stderr: child.stderr() };
}

it('clears a locked PIN, tells the subscriber by SMS, and the next dial asks for a new PIN', async () => {
  const port = s.stack.config.ussd.http.port as number;
  const first = new UssdPhone(port, PHONE);
  expect((await first.dial()).text).toMatch(/^Welcome to dialpay\. Choose a 4-digit PIN/);
  expect((await first.answer('2580', '2580')).text).toMatch(/^PIN saved\./);
  // Locked, as three wrong PINs leave it (that path has its own tests in ussd/menus.test.ts).
  await s.pool.query('UPDATE payments.subscribers SET pin_locked = true, pin_failures = 3 WHERE msisdn = $1', [PHONE]);
  const smsBefore = s.sim.submitted.filter((m) => m.destination === PHONE).length;

  const reset = await pinReset('--operator', 'safaricom-ke', '--msisdn', '0700000555');
  expect(reset.stderr).toBe('');
  expect(reset.code).toBe(0);
  expect(reset.stdout).toContain('PIN of +254700000555 reset (it was locked); they were told by SMS');
  expect(await subscriber()).toEqual({ has_pin: false, pin_locked: false, pin_failures: 0 });
  expect(await s.nextSms(PHONE, smsBefore)).toBe('Customer care has reset your dialpay PIN. Dial *384# to choose a new one. Did not ask for this? Call customer care.');

  const next = new UssdPhone(port, PHONE);
  expect((await next.dial()).text).toMatch(/^Welcome to dialpay\. Choose a 4-digit PIN/);
  expect((await next.answer('1357', '1357')).text).toMatch(/^PIN saved\./);
  expect(await subscriber()).toEqual({ has_pin: true, pin_locked: false, pin_failures: 0 });
}, 60_000);

it('refuses what it cannot do and changes nothing', async () => {
  const before = await subscriber();
  const unknown = await pinReset('--operator', 'safaricom-ke', '--msisdn', '+254799999999');
  expect(unknown.code).toBe(1);
  expect(unknown.stderr).toContain('+254799999999 has never used dialpay; there is no PIN to reset');
  const badNumber = await pinReset('--operator', 'safaricom-ke', '--msisdn', 'call me');
  expect(badNumber.code).toBe(64);
  expect(badNumber.stderr).toContain('"call me" is not a phone number of safaricom-ke');
  const noOperator = await pinReset('--msisdn', PHONE);
  expect(noOperator.code).toBe(64);
  expect(noOperator.stderr).toMatch(/pin reset needs --operator ID \(one of: safaricom-ke, orange-sn\)/);
  expect(await subscriber()).toEqual(before);
}, 60_000);

it('is refused while a payment waits for the PIN, and goes through once that payment has ended', async () => {
  // The subscriber has a PIN (from the first test): above pinRequiredAboveMinor the challenge asks for it.
  expect(await s.ask(PHONE, 'PAY SHOP42 1500')).toMatch(/Reply with your PIN/);
  const refused = await pinReset('--operator', 'safaricom-ke', '--msisdn', PHONE, '--by', 'agent-7');
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain('+254700000555 has 1 payment(s) under way that may ask for the PIN; nothing changed');
  expect(await subscriber()).toMatchObject({ has_pin: true, pin_locked: false });
  expect(await s.ask(PHONE, 'STOP')).toMatch(/cancel/i);
  const reset = await pinReset('--operator', 'safaricom-ke', '--msisdn', PHONE, '--by', 'agent-7');
  expect(reset.code).toBe(0);
  expect(reset.stdout).toMatch(/"by":"agent-7"/);
  expect(await subscriber()).toMatchObject({ has_pin: false, pin_locked: false });
}, 60_000);

it('with no PIN to match, wrong answers end the payment but lock nothing; choosing a PIN clears any lock', async () => {
  const phone = '254700000556';
  const first = new UssdPhone(s.stack.config.ussd.http.port as number, phone);
  await first.dial();
  await first.answer('2580', '2580');
  expect(await s.ask(phone, 'PAY SHOP42 1500')).toMatch(/Reply with your PIN/);
  // As if a reset had slipped in after the challenge asked for the PIN.
  await s.pool.query('UPDATE payments.subscribers SET pin_hash = NULL WHERE msisdn = $1', [phone]);
  for (let i = 0; i < 3; i++) await s.ask(phone, '2580');
  const row = async () => (await s.pool.query<{ pin_locked: boolean; pin_failures: number }>('SELECT pin_locked, pin_failures FROM payments.subscribers WHERE msisdn = $1', [phone])).rows[0];
  expect(await row()).toEqual({ pin_locked: false, pin_failures: 0 });
  const state = await s.pool.query<{ state: string }>(`SELECT state FROM payments.payments WHERE payer_msisdn = $1 ORDER BY created_at DESC LIMIT 1`, [phone]);
  expect(state.rows[0]?.state).toBe('failed');
  // A lock left with no PIN (an older release's reset) does not outlive the next PIN chosen.
  await s.pool.query('UPDATE payments.subscribers SET pin_locked = true WHERE msisdn = $1', [phone]);
  const next = new UssdPhone(s.stack.config.ussd.http.port as number, phone);
  expect((await next.dial()).text).toMatch(/^Welcome to dialpay\. Choose a 4-digit PIN/);
  expect((await next.answer('1357', '1357')).text).toMatch(/^PIN saved\./);
  expect((await row())?.pin_locked).toBe(false);
}, 60_000);
