// Many simultaneous payments from one MSISDN whose wallet holds little: the
// ledger never lets them overspend, whatever order they arrive and are
// confirmed in. The wallet adapter puts the balance check in our ledger.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import type { Ledger } from '../../../services/billing/ledger/store.js';
import { AccountIds, depositTransfer } from '../../../services/billing/ledger/rules.js';
import type { SmscSimulator } from '../../../operator-sim/index.js';
import { startPaymentsStack, type PaymentsStack } from '../../support/payments-stack.js';
import { waitFor } from '../../support/stack.js';

let p: PaymentsStack;
let sim: SmscSimulator;
let ledger: Ledger;
const PHONE = '254711999001';

beforeAll(async () => {
  p = await startPaymentsStack(new SimulatedCarrier({ openingBalanceMinor: 0n }), (raw) => {
    raw.operators[0].billingAdapter = 'wallet';
    raw.limits.paymentsPerMinuteMax = 100;
  });
  ({ sim, ledger } = p);
  await ledger.ensureAccount(AccountIds.subscriber(PHONE), 'subscriber', 'KES');
  await ledger.ensureAccount(AccountIds.carrier('safaricom-ke'), 'carrier_clearing', 'KES');
  await ledger.apply(depositTransfer('cash-in', 'safaricom-ke', AccountIds.subscriber(PHONE), 'KES', 50_000n)); // 500.00 KES
});
afterAll(async () => {
  await p?.cleanup();
});

it('twelve PAY 100 at once from a 500.00 wallet: at most five go through, and the wallet never goes negative', async () => {
  const sent = await Promise.all(Array.from({ length: 12 }, (_, i) => sim.sendFromPhone(PHONE, '384', `PAY SHOP42 100 race${i}`)));
  expect(sent.flat().every((s) => s === 0)).toBe(true);
  const answers = await waitFor('an answer to every PAY', async () => {
    const got = sim.submitted.filter((m) => m.destination === PHONE);
    return got.length >= 12 ? got : null;
  }, 30_000);
  const challenges = answers.filter((m) => /Reply YES \d{4}/.test(m.text));
  const refused = answers.filter((m) => /insufficient balance/.test(m.text));
  expect(challenges).toHaveLength(5);
  expect(refused).toHaveLength(7);
  // Confirm them all at once, in reverse order: each code names its own payment.
  const codes = challenges.map((m) => /YES (\d{4})/.exec(m.text)?.[1] as string).reverse();
  await Promise.all(codes.map((code) => sim.sendFromPhone(PHONE, '384', `YES ${code}`)));
  await waitFor('five receipts', async () => sim.submitted.filter((m) => m.destination === PHONE && /^Paid 100\.00 KES/.test(m.text)).length === 5, 30_000);
  expect(await ledger.balance(AccountIds.subscriber(PHONE))).toBe(0n);
  await waitFor('merchant paid for five', async () => (await ledger.balance(AccountIds.merchant('SHOP42', 'KES'))) > 0n);
  expect(await ledger.check()).toEqual({ postingsSumMinor: 0n, unbalancedTransfers: 0, driftedBalances: 0, negativeBalances: 0 });
  expect(sim.submitted.filter((m) => m.destination === PHONE && /Wrong code/.test(m.text))).toEqual([]);
});
