// BAL asks billing and waits for its answer (up to a bound). That wait must not
// hold the subscriber's row lock: a PAY from the same phone meanwhile goes
// through at once, instead of queueing behind the balance query.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import type { SmscSimulator } from '../../../operator-sim/index.js';
import { startPaymentsStack, type PaymentsStack } from '../../support/payments-stack.js';
import { waitFor } from '../../support/stack.js';

/**
 * The longest billing's balance answer waits, below payments' 2 s BAL bound so it is still sent. It
 * answers sooner once the PAY's challenge is out: on lock-free code that is at once, and the test has
 * the whole bound as margin; holding the lock, the challenge cannot come first, and the wait runs out.
 */
const BALANCE_DELAY_MS_MAX = 1_800;
const PHONE = '254711888001';

/** A carrier whose balance query is slow; everything else as the simulator. */
class SlowBalanceCarrier extends SimulatedCarrier {
  balanceAsked = 0;
  answerBalanceNow: () => void = () => undefined;
  override async balance(operatorId: string, msisdn: string): Promise<bigint | null> {
    this.balanceAsked++;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, BALANCE_DELAY_MS_MAX);
      this.answerBalanceNow = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    return super.balance(operatorId, msisdn);
  }
}

let p: PaymentsStack;
let sim: SmscSimulator;
const carrier = new SlowBalanceCarrier({ openingBalanceMinor: 1_000_000n });

beforeAll(async () => {
  p = await startPaymentsStack(carrier);
  ({ sim } = p);
});
afterAll(async () => {
  await p?.cleanup();
});

it('a PAY sent while BAL waits for billing is challenged before the balance comes back', async () => {
  await sim.sendFromPhone(PHONE, '384', 'BAL');
  // Payments has taken the BAL and is waiting on billing.
  await waitFor('billing asked for the balance', async () => carrier.balanceAsked > 0, 10_000);
  await sim.sendFromPhone(PHONE, '384', 'PAY SHOP42 100 lockfree');
  const toPhone = () => sim.submitted.filter((m) => m.destination === PHONE).map((m) => m.text);
  // Billing answers as soon as the challenge is out (or when its wait runs out).
  void waitFor('the challenge', async () => toPhone().some((t) => /Reply YES \d{4}/.test(t)), 15_000).then(() => carrier.answerBalanceNow(), () => undefined);
  const texts = await waitFor('the challenge and the balance', async () => {
    const got = toPhone();
    return got.some((t) => /Reply YES \d{4}/.test(t)) && got.some((t) => /^Balance: /.test(t)) ? got : null;
  }, 15_000);
  const challengeAt = texts.findIndex((t) => /Reply YES \d{4}/.test(t));
  const balanceAt = texts.findIndex((t) => /^Balance: /.test(t));
  // Holding the lock through billing's answer, the PAY would wait for it and come second.
  expect(challengeAt).toBeLessThan(balanceAt);
});
