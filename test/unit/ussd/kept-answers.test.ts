// What a USSD session keeps of its path (SMPP dialogues keep it in KV): every PIN masked once no later
// screen needs it, and the masked path replays to the same screens without asking for anything again.
import { describe, expect, it } from 'vitest';
import { fromPhone, runMenu } from '../../../services/ussd/menu.js';
import { KEPT_PIN, KEPT_REFUSED, type Facts, type MenuContext, type MenuServices } from '../../../services/ussd/walk.js';
import { exampleConfigRaw } from '../../support/stack.js';
import { validateConfig } from '../../../cli/config.js';
import { moneyToProto, type dialpay } from '../../../proto/index.js';

const config = validateConfig(exampleConfigRaw());
const operator = config.operators[0]!;
const GOOD_PIN = '2468';

/** Payments as the menu sees it, recording every request; one PIN is right. */
function fakeServices(hasPin: boolean): { services: MenuServices; requests: dialpay.v1.ISubscriberCommandRequest[] } {
  const requests: dialpay.v1.ISubscriberCommandRequest[] = [];
  const services: MenuServices = {
    payments: async (q) => {
      requests.push(q);
      if (q.profile) return { outcome: 1, hasPin, language: 'en' };
      if (q.startPayment) {
        if (q.startPayment.pin !== GOOD_PIN) return { outcome: 2, attemptsLeft: 2 };
        return { outcome: 1, paymentId: 'pay-1', amount: moneyToProto({ amountMinor: 3_000n, currency: 'KES' }), fee: moneyToProto({ amountMinor: 55n, currency: 'KES' }), payeeName: 'Duka (SHOP42)' };
      }
      return { outcome: 1 };
    },
    balance: async () => ({ available: false }),
  };
  return { services, requests };
}

/** Hops as an SMPP edge makes them: each replays the kept path plus the newest answer. */
async function dialogue(hasPin: boolean, typed: readonly string[]) {
  const { services, requests } = fakeServices(hasPin);
  const context: MenuContext = { sessionId: 'unit-kept', dialogueId: 'unit-kept~d1', operator, msisdn: '254700000001', merchants: new Map(config.merchants.map((m) => [m.id, m])), airtimeOffered: false, services };
  const facts: Facts = {};
  let kept: readonly string[] = [];
  const hops: { screen: string; kept: readonly string[] }[] = [];
  const waiting: (readonly number[])[] = [];
  await runMenu(context, facts, [], 1_000);
  for (const answer of typed) {
    const result = await runMenu(context, facts, [...kept, answer], 1_000);
    kept = result.keptAnswers;
    hops.push({ screen: result.screen.text, kept });
    waiting.push(result.pinsWaitingAt);
  }
  return { hops, requests, kept, waiting };
}

describe('the kept path', () => {
  it('pay a merchant: the PIN is masked on the hop it is typed, and the masked path confirms the payment', async () => {
    const { hops, requests } = await dialogue(true, ['1', 'SHOP42', '30', 'r1', GOOD_PIN, '1']);
    expect(hops[4]).toEqual({ screen: expect.stringContaining('Pay 30.00 KES'), kept: ['1', 'SHOP42', '30', 'r1', KEPT_PIN] });
    expect(hops[5]).toEqual({ screen: 'Payment submitted. You will get an SMS with the result.', kept: ['1', 'SHOP42', '30', 'r1', KEPT_PIN, '1'] });
    // Payments heard the PIN once, on its own hop, and never a mask or a stand-in.
    expect(requests.filter((q) => q.startPayment).map((q) => q.startPayment?.pin)).toEqual([GOOD_PIN]);
    expect(requests.filter((q) => q.confirmPayment).map((q) => q.confirmPayment?.paymentId)).toEqual(['pay-1']);
  });

  it('a wrong PIN, a refused answer and then the right PIN: each masked, and the retry screens replay as they were', async () => {
    const { hops, requests } = await dialogue(true, ['1', 'SHOP42', '30', 'r1', '1111', '12', GOOD_PIN, '1']);
    expect(hops[4]?.screen).toMatch(/Wrong PIN/);
    expect(hops[5]?.screen).toMatch(/^A PIN is 4 digits\.\n.*Wrong PIN/s);
    expect(hops[6]?.kept).toEqual(['1', 'SHOP42', '30', 'r1', KEPT_PIN, KEPT_REFUSED, KEPT_PIN]);
    expect(hops[7]?.screen).toBe('Payment submitted. You will get an SMS with the result.');
    expect(requests.filter((q) => q.startPayment).map((q) => q.startPayment?.pin)).toEqual(['1111', GOOD_PIN]);
  });

  it('choosing a PIN keeps the first entry only until the repeat is compared, then masks both', async () => {
    const { hops, requests, waiting } = await dialogue(false, ['1357', '1357', '4']);
    expect(hops[0]?.kept).toEqual(['1357']);
    // ... and says which entries those are, so the session seals them (seal.ts).
    expect(waiting).toEqual([[0], [], []]);
    expect(hops[1]).toEqual({ screen: expect.stringMatching(/^PIN saved\./), kept: [KEPT_PIN, KEPT_PIN] });
    expect(hops[2]?.kept).toEqual([KEPT_PIN, KEPT_PIN, '4']);
    expect(requests.filter((q) => q.setPin).map((q) => q.setPin)).toEqual([{ newPin: '1357' }]);
  });

  it('changing a PIN keeps the current and new PIN only until pin.changed has sent them, then masks all three', async () => {
    const { hops, requests, waiting } = await dialogue(true, ['4', '3', GOOD_PIN, '1357', '1357']);
    expect(hops[2]?.kept).toEqual(['4', '3', GOOD_PIN]);
    expect(waiting).toEqual([[], [], [2], [2, 3], []]);
    expect(hops[3]?.kept).toEqual(['4', '3', GOOD_PIN, '1357']);
    expect(hops[4]).toEqual({ screen: 'PIN changed.', kept: ['4', '3', KEPT_PIN, KEPT_PIN, KEPT_PIN] });
    expect(requests.filter((q) => q.setPin).map((q) => q.setPin)).toEqual([{ currentPin: GOOD_PIN, newPin: '1357' }]);
  });

  it('keeps answers at other screens as typed', async () => {
    const { kept, waiting } = await dialogue(true, ['2', '0712345678', '200']);
    expect(kept).toEqual(['2', '0712345678', '200']);
    expect(waiting.flat()).toEqual([]);
  });
});

it('an answer from the phone that reads like a mask is one no screen takes', () => {
  expect(fromPhone(KEPT_PIN)).toBe('');
  expect(fromPhone(KEPT_REFUSED)).toBe('');
  expect(fromPhone('<sealed:abc>')).toBe('');
  expect(fromPhone('2468')).toBe('2468');
});
