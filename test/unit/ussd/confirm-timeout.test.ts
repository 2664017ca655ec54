// "1 Confirm" whose answer does not come in time: payments may have the confirmation and be paying,
// so the screen tells the subscriber to wait for the SMS, never to try again (they could pay twice).
// "Try again later" stays for failures known not to have reached payments.
import { describe, expect, it } from 'vitest';
import { MenuTimeoutError, runMenu } from '../../../services/ussd/menu.js';
import { isConfirmationState } from '../../../services/ussd/payment-states.js';
import type { Facts, MenuContext, MenuServices } from '../../../services/ussd/walk.js';
import { text } from '../../../services/ussd/texts.js';
import { ReplyError } from '../../../runtime/nats/index.js';
import { exampleConfigRaw } from '../../support/stack.js';
import { validateConfig } from '../../../cli/config.js';
import { moneyToProto } from '../../../proto/index.js';

const config = validateConfig(exampleConfigRaw());
const operator = config.operators[0]!;
const TO_CONFIRM = ['3', '2', '0712345678', '50', '2468'];

/** An airtime payment started by the menu; `confirm` answers (or fails) its "1 Confirm". */
function contextWith(
  sessionId: string, language: 'en' | 'fr', confirm: () => Promise<Awaited<ReturnType<MenuServices['payments']>>>,
): MenuContext {
  return {
    sessionId, dialogueId: `${sessionId}~d1`, operator, msisdn: '254700000009', merchants: new Map(), airtimeOffered: true,
    services: {
      payments: async (q) => {
        if (q.profile) return { outcome: 1, hasPin: true, language };
        if (q.confirmPayment) return confirm();
        return { outcome: 1, paymentId: 'p-9', amount: moneyToProto({ amountMinor: 5_000n, currency: 'KES' }),
          fee: moneyToProto({ amountMinor: 0n, currency: 'KES' }), payeeName: 'airtime' };
      },
      balance: async () => ({ available: false }),
    },
  };
}

async function confirmScreen(context: MenuContext, timeoutMs = 1_000): Promise<string> {
  const facts: Facts = {};
  await runMenu(context, facts, [], 1_000);
  expect((await runMenu(context, facts, TO_CONFIRM, 1_000)).screen.text).toMatch(/1 Confirm/);
  const done = await runMenu(context, facts, [...TO_CONFIRM, '1'], timeoutMs);
  expect(done.screen.end).toBe(true);
  return done.screen.text;
}

describe('the confirmation that times out', () => {
  it('says the result comes by SMS and not to pay again, in English and French', async () => {
    const timedOut = () => Promise.reject(new ReplyError('no reply on dialpay.payments.subscriber in time', 408));
    expect(await confirmScreen(contextWith('ct-1', 'en', timedOut))).toBe(text('confirmUnsure', 'en'));
    expect(text('confirmUnsure', 'en')).toBe(
      'We could not confirm in time. You will get an SMS with the result; do not repeat the payment before then.');
    expect(await confirmScreen(contextWith('ct-2', 'fr', timedOut))).toBe(text('confirmUnsure', 'fr'));
    expect(text('confirmUnsure', 'fr')).toMatch(/^Nous n avons pas pu confirmer a temps\..*SMS.*ne refaites pas le paiement/);
  });

  it('still says "try again later" when the confirmation never left (no responders, too many waiting)', async () => {
    for (const code of [503, 429]) {
      const refused = () => Promise.reject(new ReplyError('refused before sending', code));
      expect(await confirmScreen(contextWith(`ct-3-${code}`, 'en', refused))).toBe(text('unavailable', 'en'));
    }
  });

  it("the hop's own deadline at the confirmation names the confirmation screen, which the service answers as unsure", async () => {
    const context = contextWith('ct-4', 'en', () => new Promise(() => undefined)); // payments never answers
    const facts: Facts = {};
    await runMenu(context, facts, [], 1_000);
    const failed = await runMenu(context, facts, [...TO_CONFIRM, '1'], 200).then(() => null, (err: unknown) => err);
    expect(failed).toBeInstanceOf(MenuTimeoutError);
    expect((failed as MenuTimeoutError).state).toBe('airtime.done');
    expect(isConfirmationState('airtime.done')).toBe(true);
    for (const state of ['airtime.confirm', 'airtime.cancel', 'start', 'account.balance']) expect(isConfirmationState(state)).toBe(false);
  });
});
