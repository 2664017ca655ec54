// Which payments customer care may reverse, and what a reversal's outcome is called (reversal-rules.ts).
import { describe, expect, it } from 'vitest';
import {
  paymentRef, refusalText, reversalCreditId, reversalOutcome, reversalRefusal, reversedPaymentOf, type ReversiblePayment,
} from '../../../services/payments/reversal-rules.js';

const DAY_MS = 86_400_000;
const NOW = Date.UTC(2026, 11, 4, 12, 0);
const transfer: ReversiblePayment = {
  payee_kind: 'subscriber', state: 'completed', agent_id: null, funding: 'carrier', operator_id: 'safaricom-ke',
  payee_operator_id: 'safaricom-ke', created_at: new Date(NOW - DAY_MS),
};

describe('reversalRefusal', () => {
  it('lets a completed on-net transfer within the window through, older rows without a payee operator too', () => {
    expect(reversalRefusal(transfer, NOW, 7 * DAY_MS)).toBeNull();
    expect(reversalRefusal({ ...transfer, payee_operator_id: null, funding: 'wallet' }, NOW, 7 * DAY_MS)).toBeNull();
    expect(reversalRefusal({ ...transfer, created_at: new Date(NOW - 7 * DAY_MS) }, NOW, 7 * DAY_MS)).toBeNull();
  });

  it('refuses everything else, each with its reason', () => {
    expect(reversalRefusal(undefined, NOW, DAY_MS)).toBe('not-found');
    expect(reversalRefusal({ ...transfer, payee_kind: 'merchant' }, NOW, 7 * DAY_MS)).toBe('merchant-payment');
    expect(reversalRefusal({ ...transfer, payee_kind: 'airtime' }, NOW, 7 * DAY_MS)).toBe('not-a-transfer');
    expect(reversalRefusal({ ...transfer, payee_kind: 'agent' }, NOW, 7 * DAY_MS)).toBe('not-a-transfer');
    expect(reversalRefusal({ ...transfer, agent_id: 'AG1001', funding: 'agent-float' }, NOW, 7 * DAY_MS)).toBe('not-a-transfer');
    expect(reversalRefusal({ ...transfer, payee_operator_id: 'mtn-ug' }, NOW, 7 * DAY_MS)).toBe('other-operator');
    expect(reversalRefusal({ ...transfer, state: 'challenged' }, NOW, 7 * DAY_MS)).toBe('not-completed');
    expect(reversalRefusal({ ...transfer, state: 'failed' }, NOW, 7 * DAY_MS)).toBe('not-completed');
    expect(reversalRefusal({ ...transfer, created_at: new Date(NOW - 7 * DAY_MS - 1) }, NOW, 7 * DAY_MS)).toBe('too-old');
  });

  it('says the window in the unit it was configured in', () => {
    expect(refusalText('too-old', 7 * DAY_MS)).toBe('the transfer is older than the reversal window (7 days)');
    expect(refusalText('too-old', 36 * 3_600_000)).toBe('the transfer is older than the reversal window (36 hours)');
    expect(refusalText('too-old', 90_000)).toBe('the transfer is older than the reversal window (2 minutes)');
    expect(refusalText('other-operator', DAY_MS)).toMatch(/the payee's operator must reverse it/);
  });
});

describe('reversalOutcome', () => {
  it('names all, part and nothing, and refuses the impossible', () => {
    expect(reversalOutcome(2_000n, 2_000n)).toBe('reversed');
    expect(reversalOutcome(2_000n, 500n)).toBe('partial');
    expect(reversalOutcome(2_000n, 0n)).toBe('refused');
    expect(() => reversalOutcome(2_000n, 2_001n)).toThrow(RangeError);
    expect(() => reversalOutcome(0n, 0n)).toThrow(RangeError);
    expect(() => reversalOutcome(2_000n, -1n)).toThrow(RangeError);
  });
});

describe('reversal credit ids', () => {
  it('name one payment each, and nothing else is taken for one', () => {
    const id = '1a2b3c4d-0000-4000-8000-000000000001';
    expect(reversalCreditId(id)).toBe(`reversal-${id}`);
    expect(reversedPaymentOf(reversalCreditId(id))).toBe(id);
    expect(reversedPaymentOf(id)).toBeNull();
    expect(reversedPaymentOf('reversal-not-a-uuid')).toBeNull();
    expect(paymentRef(id)).toBe('1A2B3C4D');
  });
});
