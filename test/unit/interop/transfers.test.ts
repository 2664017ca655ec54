// Routing a transfer by the payee's number (services/payments/transfers.ts)
// and netting the day's inter-operator positions per pair of operators
// (services/settlement/interop-arithmetic.ts). Pure.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { payeeReceiptRoute, routeTransfer, transferRefusalText, TransferRefusal } from '../../../services/payments/transfers.js';
import { interopCsv, netPositions, InteropArithmeticError, type PositionTotal } from '../../../services/settlement/interop-arithmetic.js';
import { loadExampleWith } from '../../support/config.js';
import { payerOfMerchant } from '../../../services/payments/merchant-checks.js';
import type { PaymentEngine } from '../../../services/payments/engine.js';

const config = loadExampleWith((raw) => {
  raw.operators.push({ ...structuredClone(raw.operators[0]), id: 'airtel-ke', name: 'Airtel Kenya', numberRanges: ['+25473', '+25410'], defaultLanguage: 'fr', shortCodes: ['20385'], smpp: { ...raw.operators[0].smpp, port: 2777 }, ussd: undefined });
});
const [safaricom, , airtel] = config.operators as
  [typeof config.operators[number], typeof config.operators[number], typeof config.operators[number]];
const operators = new Map(config.operators.map((o) => [o.id, o]));

describe('routeTransfer', () => {
  it('finds the payee\'s operator from the number, not from the payer', () => {
    expect(routeTransfer(config.operators, safaricom, '254711000001', '254711000002')).toMatchObject({ ok: true, payeeOperator: { id: 'safaricom-ke' } });
    expect(routeTransfer(config.operators, safaricom, '254711000001', '254733000002')).toMatchObject({ ok: true, payeeOperator: { id: 'airtel-ke' } });
    expect(routeTransfer(config.operators, airtel, '254733000002', '254711000001')).toMatchObject({ ok: true, payeeOperator: { id: 'safaricom-ke' } });
  });

  it('refuses oneself, a number in no range, and an operator in another currency', () => {
    expect(routeTransfer(config.operators, safaricom, '254711000001', '254711000001')).toMatchObject({ ok: false, refusal: TransferRefusal.SELF });
    expect(routeTransfer(config.operators, safaricom, '254711000001', '254200000001')).toMatchObject({ ok: false, refusal: TransferRefusal.NO_OPERATOR, payeeOperator: null });
    expect(routeTransfer(config.operators, safaricom, '254711000001', '221760000001')).toMatchObject({ ok: false, refusal: TransferRefusal.NO_OPERATOR });
    expect(routeTransfer(config.operators, safaricom, '254711000001', '221770000001')).toMatchObject({ ok: false, refusal: TransferRefusal.OTHER_CURRENCY, payeeOperator: { id: 'orange-sn' } });
  });

  it('tells the payer why, in their language', () => {
    const refusal = (payee: string) => routeTransfer(config.operators, safaricom, '254711000001', payee) as Extract<ReturnType<typeof routeTransfer>, { ok: false }>;
    expect(transferRefusalText(refusal('221770000001'), '221770000001', safaricom, 'en')).toBe('+221770000001 is on Orange Senegal, which uses XOF: you cannot send KES there. Nothing was charged.');
    expect(transferRefusalText(refusal('221770000001'), '221770000001', safaricom, 'fr')).toBe('+221770000001 est chez Orange Senegal, en XOF: impossible d envoyer des KES. Rien n a ete debite.');
    expect(transferRefusalText(refusal('254200000001'), '254200000001', safaricom, 'en')).toBe('+254200000001 is not on a network dialpay can send to. Check the number. Nothing was charged.');
    expect(transferRefusalText(refusal('254200000001'), '254200000001', safaricom, 'fr')).toMatch(/^\+254200000001 n est pas sur un reseau joignable par dialpay\./);
    expect(transferRefusalText(refusal('254711000001'), '254711000001', safaricom, 'en')).toBe('You cannot send money to yourself.');
  });
});

describe('payerOfMerchant (the merchant API\'s payer)', () => {
  const engine = { operators, config } as unknown as PaymentEngine;
  const merchant = (operatorIds: string[]) => ({ ...(config.merchants[0] as typeof config.merchants[number]), operatorIds });

  it('finds the payer\'s operator by the number\'s range, not by its country', () => {
    expect(payerOfMerchant(engine, merchant(['safaricom-ke', 'airtel-ke']), '0733000001', 'KES')).toMatchObject({ operator: { id: 'airtel-ke' }, msisdn: '254733000001' });
    expect(payerOfMerchant(engine, merchant(['safaricom-ke', 'airtel-ke']), '+254711000001', 'KES')).toMatchObject({ operator: { id: 'safaricom-ke' } });
    // Airtel's subscriber is not Safari Mobile's, though both are +254; a number in no range is nobody's.
    expect(payerOfMerchant(engine, merchant(['safaricom-ke']), '0733000001', 'KES')).toBeNull();
    expect(payerOfMerchant(engine, merchant(['safaricom-ke', 'airtel-ke']), '0200000001', 'KES')).toBeNull();
    expect(payerOfMerchant(engine, merchant(['safaricom-ke', 'orange-sn']), '+221770000001', 'KES')).toBeNull();
    expect(payerOfMerchant(engine, merchant(['safaricom-ke', 'orange-sn']), '+221770000001', 'XOF')).toMatchObject({ operator: { id: 'orange-sn' } });
  });
});

describe('payeeReceiptRoute', () => {
  const payment = { operator_id: 'safaricom-ke', short_code: '20384', payee_id: '254733000002' };

  it('sends the payee\'s receipt through the payee\'s operator, from its short code, in its language', () => {
    expect(payeeReceiptRoute({ ...payment, payee_operator_id: 'airtel-ke' }, operators)).toEqual({ to: { operatorId: 'airtel-ke', msisdn: '254733000002', shortCode: '20385' }, defaultLanguage: 'fr' });
  });

  it('keeps an on-net (or older) transfer on the payer\'s operator and short code', () => {
    expect(payeeReceiptRoute({ ...payment, payee_operator_id: 'safaricom-ke' }, operators)).toEqual({ to: { operatorId: 'safaricom-ke', msisdn: '254733000002', shortCode: '20384' }, defaultLanguage: 'en' });
    expect(payeeReceiptRoute({ ...payment, payee_operator_id: null }, operators).to.operatorId).toBe('safaricom-ke');
  });
});

describe('netPositions', () => {
  it('nets each pair per currency, whichever way the money went, and says who pays', () => {
    const lines = netPositions([
      { payerOperatorId: 'safaricom-ke', payeeOperatorId: 'airtel-ke', currency: 'KES', transfers: 3, amountMinor: 50_000n },
      { payerOperatorId: 'airtel-ke', payeeOperatorId: 'safaricom-ke', currency: 'KES', transfers: 1, amountMinor: 20_000n },
      { payerOperatorId: 'mtn-ug', payeeOperatorId: 'airtel-ug', currency: 'UGX', transfers: 1, amountMinor: 700n },
    ]);
    expect(lines).toEqual([
      { operatorA: 'airtel-ke', operatorB: 'safaricom-ke', currency: 'KES', transfersAToB: 1, aOwesBMinor: 20_000n, transfersBToA: 3, bOwesAMinor: 50_000n, netAOwesBMinor: -30_000n, debtor: 'safaricom-ke', creditor: 'airtel-ke', netMinor: 30_000n },
      { operatorA: 'airtel-ug', operatorB: 'mtn-ug', currency: 'UGX', transfersAToB: 0, aOwesBMinor: 0n, transfersBToA: 1, bOwesAMinor: 700n, netAOwesBMinor: -700n, debtor: 'mtn-ug', creditor: 'airtel-ug', netMinor: 700n },
    ]);
    expect(interopCsv('interop/2026-12-02', lines).split('\n')).toEqual([
      'window,operator_a,operator_b,currency,transfers_a_to_b,a_owes_b_minor,transfers_b_to_a,b_owes_a_minor,net_a_owes_b_minor,debtor,creditor,net_minor',
      'interop/2026-12-02,airtel-ke,safaricom-ke,KES,1,20000,3,50000,-30000,safaricom-ke,airtel-ke,30000',
      'interop/2026-12-02,airtel-ug,mtn-ug,UGX,0,0,1,700,-700,mtn-ug,airtel-ug,700',
      '',
    ]);
  });

  it('refuses a position of an operator with itself, or a negative one', () => {
    expect(() => netPositions([{ payerOperatorId: 'a', payeeOperatorId: 'a', currency: 'KES', transfers: 1, amountMinor: 1n }])).toThrow(InteropArithmeticError);
    expect(() => netPositions([{ payerOperatorId: 'a', payeeOperatorId: 'b', currency: 'KES', transfers: 1, amountMinor: -1n }])).toThrow(InteropArithmeticError);
  });

  it('keeps every operator whole: what each is paid net equals what it is owed less what it owes (property)', () => {
    const ids = ['a', 'b', 'c', 'd'];
    const total = fc.record({ payer: fc.integer({ min: 0, max: 3 }), shift: fc.integer({ min: 1, max: 3 }), currency: fc.constantFrom('KES', 'UGX'), transfers: fc.integer({ min: 1, max: 50 }), amountMinor: fc.bigInt({ min: 1n, max: 10n ** 15n }) })
      .map((t): PositionTotal => ({
        payerOperatorId: ids[t.payer] as string, payeeOperatorId: ids[(t.payer + t.shift) % 4] as string,
        currency: t.currency, transfers: t.transfers, amountMinor: t.amountMinor,
      }));
    fc.assert(fc.property(fc.array(total, { maxLength: 30 }), (totals) => {
      const lines = netPositions(totals);
      for (const currency of ['KES', 'UGX']) {
        for (const id of ids) {
          const gross = totals.filter((t) => t.currency === currency)
            .reduce((s, t) => s + (t.payeeOperatorId === id ? t.amountMinor : 0n) - (t.payerOperatorId === id ? t.amountMinor : 0n), 0n);
          const net = lines.filter((l) => l.currency === currency)
            .reduce((s, l) => s + (l.creditor === id ? l.netMinor : 0n) - (l.debtor === id ? l.netMinor : 0n), 0n);
          expect(net).toBe(gross);
        }
      }
      for (const l of lines) {
        expect(l.operatorA < l.operatorB).toBe(true);
        expect(l.netMinor >= 0n).toBe(true);
      }
    }), { numRuns: 300 });
  });
});
