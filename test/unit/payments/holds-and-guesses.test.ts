// The pure rules behind issue 13 items 4 and 5: what a merchant's unanswered
// request may hold, and how many wrong codes a subscriber's open challenges answer.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isCodeLocked, recordWrongAnswer, type CodeGuessState } from '../../../services/payments/code-guesses.js';
import { mayOpenMerchantRequest, merchantRequestTtlMs } from '../../../services/payments/merchant-requests.js';
import { FailureReason, PaymentState, transition } from '../../../services/payments/state.js';

const rules = { wrongAnswersMax: 5, windowMs: 15 * 60_000, lockoutMs: 15 * 60_000 };
const fresh: CodeGuessState = { wrongAtMs: [], lockedUntilMs: null };

describe('a merchant request before the payer answers', () => {
  it('holds no longer than one challenge, whatever expiresInSeconds asks', () => {
    expect(merchantRequestTtlMs(86_400, 120_000)).toBe(120_000);
    expect(merchantRequestTtlMs(30, 120_000)).toBe(30_000);
    expect(merchantRequestTtlMs(0, 120_000)).toBe(120_000); // not given: the operator default
    expect(() => merchantRequestTtlMs(-1, 120_000)).toThrow(RangeError);
  });

  it('a merchant may have only so many waiting for one payer', () => {
    expect([0, 1, 2, 3].map((open) => mayOpenMerchantRequest(open, 3))).toEqual([true, true, true, false]);
  });

  it('a consent over the payer\'s limits fails the payment and releases the hold', () => {
    expect(transition({ state: PaymentState.CHALLENGED, challengeAttempts: 1 }, { kind: 'over-limit' })).toEqual({
      state: PaymentState.FAILED, challengeAttempts: 1, actions: [{ kind: 'void' }, { kind: 'fail', reason: FailureReason.LIMIT }],
    });
    // Late: nothing left to refuse.
    expect(transition({ state: PaymentState.CAPTURING, challengeAttempts: 0 }, { kind: 'over-limit' }).actions).toEqual([]);
  });
});

describe('wrong codes per subscriber', () => {
  it('locks at the fifth wrong comparison, for the lockout, then starts afresh', () => {
    let state = fresh;
    for (let i = 0; i < 4; i++) {
      const outcome = recordWrongAnswer(state, 1, 1_000 + i, rules);
      expect(outcome.locked).toBe(false);
      state = outcome.state;
    }
    const fifth = recordWrongAnswer(state, 1, 2_000, rules);
    expect(fifth).toMatchObject({ locked: true, lockedUntilMs: 2_000 + rules.lockoutMs });
    expect(isCodeLocked(fifth.state, 2_000 + rules.lockoutMs - 1)).toBe(true);
    expect(isCodeLocked(fifth.state, 2_000 + rules.lockoutMs)).toBe(false);
    expect(fifth.state.wrongAtMs).toEqual([]);
  });

  it('one wrong reply compared with five open codes is five guesses', () => {
    expect(recordWrongAnswer(fresh, 5, 0, rules).locked).toBe(true);
    expect(recordWrongAnswer(fresh, 4, 0, rules).locked).toBe(false);
  });

  it('forgets wrong answers older than the window (sliding)', () => {
    const old = recordWrongAnswer(fresh, 4, 0, rules).state;
    expect(recordWrongAnswer(old, 1, rules.windowMs - 1, rules).locked).toBe(true);
    const later = recordWrongAnswer(old, 1, rules.windowMs, rules);
    expect(later).toMatchObject({ locked: false, state: { wrongAtMs: [rules.windowMs] } });
  });

  it('never lets more than the most wrong comparisons through in any window, and keeps its state bounded (property)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 120_000 }), fc.integer({ min: 1, max: 20 })), { maxLength: 200 }), (steps) => {
      let state = fresh;
      let nowMs = 0;
      const allowed: number[] = []; // when each wrong comparison got an answer without a lockout
      for (const [gapMs, comparisons] of steps) {
        nowMs += gapMs;
        if (isCodeLocked(state, nowMs)) continue; // the shell compares nothing while locked
        const outcome = recordWrongAnswer(state, comparisons, nowMs, rules);
        if (!outcome.locked) allowed.push(...Array.from({ length: comparisons }, () => nowMs));
        state = outcome.state;
        expect(state.wrongAtMs.length).toBeLessThan(rules.wrongAnswersMax);
      }
      for (const at of allowed) expect(allowed.filter((t) => t >= at && t < at + rules.windowMs).length).toBeLessThan(rules.wrongAnswersMax);
    }));
  });

  it('refuses a count of comparisons that is not a positive integer', () => {
    expect(() => recordWrongAnswer(fresh, 0, 0, rules)).toThrow(RangeError);
  });
});
