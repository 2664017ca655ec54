import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PaymentState, transition, type PaymentInput, type PaymentSnapshot } from '../../../services/payments/state.js';

const at = (state: PaymentSnapshot['state'], challengeAttempts = 0): PaymentSnapshot => ({ state, challengeAttempts });

describe('payment state machine', () => {
  it('walks the happy path: reserve ok -> challenge, right answer -> capture, capture ok -> receipts', () => {
    expect(transition(at('reserving'), { kind: 'reserve-result', ok: true, insufficientFunds: false })).toEqual({ state: 'challenged', challengeAttempts: 0, actions: [{ kind: 'challenge' }] });
    expect(transition(at('challenged'), { kind: 'answer', correct: true, attemptsMax: 3 })).toEqual({ state: 'capturing', challengeAttempts: 0, actions: [{ kind: 'capture' }] });
    expect(transition(at('capturing'), { kind: 'capture-result', ok: true })).toEqual({ state: 'completed', challengeAttempts: 0, actions: [{ kind: 'receipts' }] });
  });

  it('airtime whose top-up was refused after the capture completes with receipts that say so (the money went to the wallet; nothing to void)', () => {
    expect(transition(at('capturing'), { kind: 'capture-result', ok: true, topUpRefunded: true })).toEqual({ state: 'completed', challengeAttempts: 0, actions: [{ kind: 'receipts', topUpRefunded: true }] });
  });

  it('manual capture: consent authorizes; the merchant capture captures; an unused authorization expires and is voided', () => {
    expect(transition(at('challenged'), { kind: 'answer', correct: true, attemptsMax: 3, manualCapture: true })).toEqual({ state: 'authorized', challengeAttempts: 0, actions: [{ kind: 'authorize' }] });
    expect(transition(at('authorized'), { kind: 'merchant-capture' })).toEqual({ state: 'capturing', challengeAttempts: 0, actions: [{ kind: 'capture' }] });
    expect(transition(at('authorized'), { kind: 'expired' })).toEqual({ state: 'failed', challengeAttempts: 0, actions: [{ kind: 'void' }, { kind: 'fail', reason: 'expired' }] });
    expect(transition(at('authorized'), { kind: 'stop' }).actions).toEqual([{ kind: 'void' }, { kind: 'fail', reason: 'cancelled' }]);
    // A merchant cannot capture what the payer has not authorized.
    expect(transition(at('challenged'), { kind: 'merchant-capture' }).actions).toEqual([]);
  });

  it('a charge under a mandate captures as soon as the reserve holds, and fails like any other when it does not', () => {
    expect(transition(at('reserving'), { kind: 'reserve-result', ok: true, insufficientFunds: false, preauthorized: true })).toEqual({ state: 'capturing', challengeAttempts: 0, actions: [{ kind: 'capture' }] });
    expect(transition(at('reserving'), { kind: 'reserve-result', ok: false, insufficientFunds: true, preauthorized: true }).actions).toEqual([{ kind: 'void' }, { kind: 'fail', reason: 'insufficient-funds' }]);
  });

  it('prompts twice, then cancels and voids on the third wrong answer', () => {
    const first = transition(at('challenged'), { kind: 'answer', correct: false, attemptsMax: 3 });
    expect(first).toEqual({ state: 'challenged', challengeAttempts: 1, actions: [{ kind: 'retry-prompt', attemptsLeft: 2 }] });
    expect(transition(at('challenged', 2), { kind: 'answer', correct: false, attemptsMax: 3 })).toEqual({
      state: 'failed', challengeAttempts: 3, actions: [{ kind: 'void' }, { kind: 'fail', reason: 'wrong-code' }],
    });
  });

  it('voids on expiry, STOP, a refused reserve and a refused capture', () => {
    expect(transition(at('challenged'), { kind: 'expired' }).actions).toEqual([{ kind: 'void' }, { kind: 'fail', reason: 'expired' }]);
    expect(transition(at('challenged'), { kind: 'stop' }).actions).toEqual([{ kind: 'void' }, { kind: 'fail', reason: 'cancelled' }]);
    expect(transition(at('reserving'), { kind: 'reserve-result', ok: false, insufficientFunds: true }).actions).toEqual([{ kind: 'void' }, { kind: 'fail', reason: 'insufficient-funds' }]);
    expect(transition(at('capturing'), { kind: 'capture-result', ok: false }).actions).toEqual([{ kind: 'void' }, { kind: 'fail', reason: 'carrier-error' }]);
  });

  it('gives up on a reserve the carrier never answered, and releases it', () => {
    expect(transition(at('reserving'), { kind: 'expired' })).toEqual({ state: 'failed', challengeAttempts: 0, actions: [{ kind: 'void' }, { kind: 'fail', reason: 'carrier-error' }] });
  });

  it('a confirmed payment is not undone by STOP or expiry', () => {
    expect(transition(at('capturing'), { kind: 'stop' }).actions).toEqual([]);
    expect(transition(at('capturing'), { kind: 'expired' }).actions).toEqual([]);
  });

  it('a risk hold: billing\'s hold reserves nothing and sends no challenge; care releases it to its reserve, or rejects it', () => {
    expect(transition(at('reserving'), { kind: 'risk-hold', rule: 'sim-swap' }))
      .toEqual({ state: 'held', challengeAttempts: 0, actions: [{ kind: 'hold', rule: 'sim-swap' }] });
    expect(transition(at('held'), { kind: 'care-release' })).toEqual({ state: 'reserving', challengeAttempts: 0, actions: [{ kind: 'reserve' }] });
    expect(transition(at('held'), { kind: 'care-reject' }))
      .toEqual({ state: 'failed', challengeAttempts: 0, actions: [{ kind: 'void' }, { kind: 'fail', reason: 'risk-rejected' }] });
    expect(transition(at('held'), { kind: 'expired' }).actions).toEqual([{ kind: 'void' }, { kind: 'fail', reason: 'hold-expired' }]);
    // Nothing else moves a held payment: no reserve result, answer, STOP or capture; and care cannot release what is not held.
    for (const input of [{ kind: 'reserve-result', ok: true, insufficientFunds: false }, { kind: 'answer', correct: true, attemptsMax: 3 },
      { kind: 'stop' }, { kind: 'capture-result', ok: true }, { kind: 'risk-hold', rule: 'new-payee' }] as const) {
      expect(transition(at('held'), input)).toEqual({ state: 'held', challengeAttempts: 0, actions: [] });
    }
    for (const state of ['reserving', 'challenged', 'authorized', 'capturing', 'completed', 'failed'] as const) {
      expect(transition(at(state), { kind: 'care-release' }).actions).toEqual([]);
      expect(transition(at(state), { kind: 'care-reject' }).actions).toEqual([]);
    }
  });

  it('moves money only on a right answer, and ends each reserve at most once (property)', () => {
    const input: fc.Arbitrary<PaymentInput> = fc.oneof(
      fc.record({ kind: fc.constant('reserve-result' as const), ok: fc.boolean(), insufficientFunds: fc.boolean() }),
      fc.record({ kind: fc.constant('answer' as const), correct: fc.boolean(), attemptsMax: fc.constant(3) }),
      fc.constant({ kind: 'expired' as const }),
      fc.constant({ kind: 'stop' as const }),
      fc.constant({ kind: 'over-limit' as const }),
      fc.record({ kind: fc.constant('capture-result' as const), ok: fc.boolean() }),
      fc.record({ kind: fc.constant('risk-hold' as const), rule: fc.constantFrom('sim-swap', 'new-payee') }),
      fc.constant({ kind: 'care-release' as const }),
      fc.constant({ kind: 'care-reject' as const }),
    );
    fc.assert(fc.property(fc.constantFrom('reserving', 'held'), fc.array(input, { maxLength: 30 }), (start, inputs) => {
      let p: PaymentSnapshot = at(start);
      let captures = 0;
      let voids = 0;
      let rightAnswers = 0;
      for (const i of inputs) {
        const before = p.state;
        const t = transition(p, i);
        if (i.kind === 'answer' && i.correct && before === PaymentState.CHALLENGED) rightAnswers++;
        captures += t.actions.filter((a) => a.kind === 'capture').length;
        voids += t.actions.filter((a) => a.kind === 'void').length;
        p = t;
      }
      expect(captures).toBeLessThanOrEqual(1);
      expect(captures).toBeLessThanOrEqual(rightAnswers);
      expect(voids).toBeLessThanOrEqual(1);
      expect(p.challengeAttempts).toBeLessThanOrEqual(3);
    }), { numRuns: 2_000 });
  });
});
