// Every screen fits one USSD message (182 GSM 03.38 septets) in both
// languages with the longest values it can carry, and long content pages.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SCREEN_CHARS_MAX, paginate, septetLength } from '../../../services/ussd/screens.js';
import { runMenu } from '../../../services/ussd/menu.js';
import type { Facts, MenuServices } from '../../../services/ussd/walk.js';
import { TEXT_KEYS, cashConfirmText, confirmText, text } from '../../../services/ussd/texts.js';
import { exampleConfigRaw } from '../../support/stack.js';
import { validateConfig } from '../../../cli/config.js';
import { moneyToProto, bigIntToInt64 } from '../../../proto/index.js';

/**
 * The longest values a screen can show: a 40-character merchant name (the config's cap), amounts
 * past any per-payment limit (a larger one is refused before the confirmation screen).
 */
const WORST = {
  currency: 'KES', left: '10', amount: '9,999,999.99 KES', fee: '999,999.99 KES', total: '9,999,999.99 KES', what: 'Envoyer',
  payee: `${'M'.repeat(40)} (${'C'.repeat(12)})`, reference: 'R'.repeat(20), balance: '-999,999,999,999.99 KES', lines: '',
};

describe('screens', () => {
  it('every text fits one message, with the longest values, in English and French', () => {
    for (const key of TEXT_KEYS) {
      for (const language of ['en', 'fr'] as const) {
        const screen = text(key, language, WORST);
        // The error line sits on top of a re-shown screen: the pair must fit too.
        const withError = `${text('invalidChoice', language)}\n${screen}`;
        expect({ key, language, septets: septetLength(key === 'statement' ? screen : withError) <= SCREEN_CHARS_MAX }).toEqual({ key, language, septets: true });
        expect(screen).toMatch(/^[\n A-Za-z0-9@$_!"#%&'()*+,\-./:;<=>?]*$/); // GSM 03.38 default alphabet, no accents
      }
    }
  });

  it('the confirmation screen with where the money comes from still fits one message, the payee name giving way but not its code', () => {
    for (const language of ['en', 'fr'] as const) {
      for (const funding of ['wallet', 'carrier'] as const) {
        const screen = confirmText(language, WORST, funding, 'O'.repeat(60), SCREEN_CHARS_MAX);
        expect(septetLength(`${text('invalidChoice', language)}\n${screen}`)).toBeLessThanOrEqual(SCREEN_CHARS_MAX);
        expect(screen).toContain(`(${'C'.repeat(12)})`);
        expect(screen).toContain(funding === 'wallet' ? text('fromWallet', language) : text('fromCarrier', language, { operator: 'O'.repeat(20) }));
      }
      // A short payee is shown whole.
      expect(confirmText(language, { ...WORST, payee: 'Duka (SHOP42)', fee: '1.60 KES', amount: '100.00 KES', reference: '' }, 'wallet', 'Safari Mobile', SCREEN_CHARS_MAX)).toContain('Duka (SHOP42)');
    }
  });

  it("a cash-out's confirmation fits with the longest agent name and id, the name giving way but not the id; a cash-in's too", () => {
    for (const language of ['en', 'fr'] as const) {
      const agentId = 'A'.repeat(32);
      const screen = cashConfirmText(language, 'cash-out', { ...WORST, payee: `${'M'.repeat(40)} (${agentId})` }, SCREEN_CHARS_MAX);
      expect(septetLength(`${text('invalidChoice', language)}\n${screen}`)).toBeLessThanOrEqual(SCREEN_CHARS_MAX);
      expect(screen).toContain(`(${agentId})`);
      expect(screen).toContain(WORST.total);
      const deposit = cashConfirmText(language, 'cash-in', { ...WORST, payee: '+254712345678901' }, SCREEN_CHARS_MAX);
      expect(septetLength(`${text('invalidChoice', language)}\n${deposit}`)).toBeLessThanOrEqual(SCREEN_CHARS_MAX);
      expect(deposit).toContain('+254712345678901');
    }
    expect(cashConfirmText('en', 'cash-out', { amount: '500.00 KES', fee: '15.00 KES', total: '515.00 KES', payee: 'Kiosk (AG1)' }, SCREEN_CHARS_MAX))
      .toBe('Withdraw 500.00 KES at Kiosk (AG1)\nFee 15.00 KES\nTotal from wallet 515.00 KES\n1 Confirm\n2 Cancel');
  });

  it('paginate keeps every page within the limit and loses no character', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: fc.constantFrom('a', 'b', ' ', '\n', '[', '€'), maxLength: 120 }), { maxLength: 12 }), (parts) => {
        const input = parts.join('\n');
        const pages = paginate(input, SCREEN_CHARS_MAX, '00 More');
        for (const page of pages) expect(septetLength(page)).toBeLessThanOrEqual(SCREEN_CHARS_MAX);
        const body = pages.map((page, i) => (i < pages.length - 1 ? page.slice(0, -'\n00 More'.length) : page));
        expect(body.join('').replace(/\n/g, '')).toBe(input.replace(/\n/g, ''));
      }),
    );
  });
});

describe('the menu without the network', () => {
  const config = validateConfig(exampleConfigRaw());
  const operator = config.operators[0]!;
  const statementLines = Array.from({ length: 5 }, (_, i) => ({
    paymentId: `p${i}`, amount: moneyToProto({ amountMinor: -123_456_789n, currency: 'KES' }), atUnixMs: bigIntToInt64(1_700_000_000_000n), counterparty: `25470000000${i}`,
  }));
  const services: MenuServices = {
    payments: async (q) => (q.profile ? { outcome: 1, hasPin: true, language: 'en' } : { outcome: 7 }),
    balance: async () => ({ available: true, balance: moneyToProto({ amountMinor: 5_000n, currency: 'KES' }), lines: statementLines }),
  };
  const context = { sessionId: 'unit-1', dialogueId: 'unit-1~d1', operator, msisdn: '254700000001', merchants: new Map(config.merchants.map((m) => [m.id, m])), airtimeOffered: false, services };

  it('pages a long mini statement with "00 More" and answers a replayed hop from the session, not the services', async () => {
    const facts: Facts = {};
    await runMenu(context, facts, [], 1_000); // the dial: learns the profile
    const first = await runMenu(context, facts, ['4', '2'], 1_000);
    expect(first.screen.end).toBe(false);
    expect(first.screen.text.endsWith('\n00 More')).toBe(true);
    expect(septetLength(first.screen.text)).toBeLessThanOrEqual(SCREEN_CHARS_MAX);
    // The next page comes from the stored fact: the services are not asked again.
    const offline = { ...context, services: { payments: async () => { throw new Error('asked again'); }, balance: async () => { throw new Error('asked again'); } } };
    const second = await runMenu(offline, facts, ['4', '2', '00'], 1_000);
    expect(second.screen.end).toBe(true);
    expect(`${first.screen.text}${second.screen.text}`.match(/-1,234,567\.89 KES/g)).toHaveLength(5);
  });

  it('airtime says it is not sold when the operator offers none (no top-up interface)', async () => {
    const facts: Facts = {};
    await runMenu({ ...context, sessionId: 'unit-2' }, facts, [], 1_000);
    const result = await runMenu({ ...context, sessionId: 'unit-2' }, facts, ['3'], 1_000);
    expect(result.screen).toEqual({ text: 'Airtime is not sold here on your network.', end: true });
  });

  it('airtime for another number asks payments for an airtime payment to that line, and shows it', async () => {
    const asked: unknown[] = [];
    const airtime = {
      ...context, sessionId: 'unit-4', dialogueId: 'unit-4~d1', airtimeOffered: true,
      services: {
        ...services,
        payments: async (q: Parameters<MenuServices['payments']>[0]) => {
          if (q.profile) return { outcome: 1, hasPin: true, language: 'en' };
          asked.push(q.startPayment);
          return { outcome: 1, paymentId: 'p-1', amount: moneyToProto({ amountMinor: 5_000n, currency: 'KES' }), fee: moneyToProto({ amountMinor: 0n, currency: 'KES' }), payeeName: 'airtime for +254712345678' };
        },
      },
    };
    const facts: Facts = {};
    await runMenu(airtime, facts, [], 1_000);
    expect((await runMenu(airtime, facts, ['3'], 1_000)).screen.text).toBe('Buy airtime for:\n1 My number\n2 Another number');
    const result = await runMenu(airtime, facts, ['3', '2', '0712345678', '50', '2468'], 1_000);
    expect(result.screen.text).toBe('Airtime 50.00 KES to +254712345678\nFee 0.00 KES\n1 Confirm\n2 Cancel');
    expect(asked).toEqual([expect.objectContaining({ payeeKind: 3, payeeId: '254712345678', pin: '2468', reference: '' })]);
  });

  it('withdraw asks payments for a cash-out at the agent typed (in capitals) and shows the cash, the fee and the total', async () => {
    const asked: unknown[] = [];
    const money = (minor: bigint) => moneyToProto({ amountMinor: minor, currency: 'KES' });
    const cash = {
      ...context, sessionId: 'unit-5', dialogueId: 'unit-5~d1',
      services: {
        ...services,
        payments: async (q: Parameters<MenuServices['payments']>[0]) => {
          if (q.profile) return { outcome: 1, hasPin: true, language: 'fr' };
          asked.push(q.startPayment);
          return { outcome: 1, paymentId: 'p-5', amount: money(50_000n), fee: money(1_500n), total: money(51_500n), payeeName: 'Kiosk (AG1001)', funding: 1 };
        },
      },
    };
    const facts: Facts = {};
    await runMenu(cash, facts, [], 1_000);
    expect((await runMenu(cash, facts, ['6'], 1_000)).screen.text).toMatch(/^Choix invalide\.\ndialpay\n/); // not an agent's line
    expect((await runMenu(cash, facts, ['5', 'x'], 1_000)).screen.text).toBe('Un numero d agent est comme AG1001.\nEntrez le numero de l agent:');
    const result = await runMenu(cash, facts, ['5', 'ag1001', '500', '2468'], 1_000);
    expect(result.screen.text).toBe('Retirer 500,00 KES chez Kiosk (AG1001)\nFrais 15,00 KES\nTotal portefeuille 515,00 KES\n1 Confirmer\n2 Annuler');
    expect(asked).toEqual([expect.objectContaining({ payeeKind: 4, payeeId: 'AG1001', pin: '2468', cashIn: false })]);
  });

  it("an agent's line gets deposits (a cash-in for the number typed) and its float balance, asked of billing by agent id", async () => {
    const asked: unknown[] = [];
    const balances: unknown[] = [];
    const agent = {
      ...context, sessionId: 'unit-6', dialogueId: 'unit-6~d1',
      services: {
        payments: async (q: Parameters<MenuServices['payments']>[0]) => {
          if (q.profile) return { outcome: 1, hasPin: true, language: 'en', agentId: 'AG1001' };
          asked.push(q.startPayment);
          return { outcome: 1, paymentId: 'p-6', amount: moneyToProto({ amountMinor: 80_000n, currency: 'KES' }), fee: moneyToProto({ amountMinor: 0n, currency: 'KES' }), payeeName: '+254712345678', funding: 3 };
        },
        balance: async (q: Parameters<MenuServices['balance']>[0]) => {
          balances.push(q);
          return { available: true, wallet: moneyToProto({ amountMinor: 12_345n, currency: 'KES' }) };
        },
      },
    };
    const facts: Facts = {};
    expect((await runMenu(agent, facts, [], 1_000)).screen.text).toBe('dialpay agent\n1 Pay merchant\n2 Send money\n3 Buy airtime\n4 My account\n5 Withdraw cash\n6 Deposit to a wallet\n7 Float balance');
    expect((await runMenu(agent, facts, ['6', '0712345678', '800', '2468'], 1_000)).screen.text).toBe('Deposit 800.00 KES to +254712345678\nFrom your float\n1 Confirm\n2 Cancel');
    expect(asked).toEqual([expect.objectContaining({ payeeKind: 2, payeeId: '254712345678', pin: '2468', cashIn: true })]);
    expect((await runMenu(agent, facts, ['7'], 1_000)).screen).toEqual({ text: 'Your float: 123.45 KES', end: true });
    expect(balances).toEqual([expect.objectContaining({ agentId: 'AG1001', msisdn: '254700000001' })]);
  });

  it('a service that never answers ends the hop at its timeout instead of hanging', async () => {
    const stuck = { ...context, sessionId: 'unit-3', services: { ...services, payments: () => new Promise<never>(() => undefined) } };
    await expect(runMenu(stuck, {}, [], 100)).rejects.toThrow(/did not answer within 100 ms/);
  });
});
