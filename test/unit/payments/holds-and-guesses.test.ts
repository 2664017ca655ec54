// The pure rules behind issue 13 items 4 and 5: what a merchant's unanswered
// request may hold, how many merchants may start for one subscriber, and how
// many wrong codes a subscriber's open challenges answer.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isCodeLocked, recordWrongAnswer, type CodeGuessState } from '../../../services/payments/code-guesses.js';
import { merchantRequestRefusal, merchantRequestTtlMs, MerchantRequestRefusal } from '../../../services/payments/merchant-requests.js';
import { answerKind, AnswerKind } from '../../../services/payments/answers.js';
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

  const bounds = { openPerMerchantMax: 3, openTotalMax: 5, unansweredPerDayMax: 5 };
  const counts = (openThisMerchant: number, openAllMerchants: number, unansweredThisMerchant = 0) =>
    ({ openThisMerchant, openAllMerchants, unansweredThisMerchant });

  it('a merchant may have only so many waiting for one payer', () => {
    expect([0, 1, 2, 3].map((open) => merchantRequestRefusal(counts(open, open), bounds)))
      .toEqual([null, null, null, MerchantRequestRefusal.OPEN_PER_MERCHANT]);
  });

  it('all merchants together may have only so many waiting for one payer, so one reply is compared with few codes', () => {
    // Two merchants with two each leave one place; the fifth is the last.
    expect(merchantRequestRefusal(counts(0, 4), bounds)).toBeNull();
    expect(merchantRequestRefusal(counts(0, 5), bounds)).toBe(MerchantRequestRefusal.OPEN_TOTAL);
    expect(merchantRequestRefusal(counts(2, 5), bounds)).toBe(MerchantRequestRefusal.OPEN_TOTAL);
    expect(() => merchantRequestRefusal(counts(3, 2), bounds)).toThrow(RangeError);
  });

  it('a merchant whose requests keep expiring unanswered may not reissue them past the daily bound', () => {
    expect(merchantRequestRefusal(counts(0, 0, 4), bounds)).toBeNull();
    expect(merchantRequestRefusal(counts(0, 0, 5), bounds)).toBe(MerchantRequestRefusal.UNANSWERED);
    // Named first: waiting for one to end would not help.
    expect(merchantRequestRefusal(counts(3, 5, 5), bounds)).toBe(MerchantRequestRefusal.UNANSWERED);
  });

  it('a reply is one kind of answer, decided before any secret is compared', () => {
    const open = (pin: number, code: number) => ({ pin, code });
    // YES <digits>: a code answer whenever a code challenge (a payment's or a mandate's) is open, PIN challenges or not.
    expect(answerKind('confirm', open(0, 1))).toBe(AnswerKind.CODE);
    expect(answerKind('confirm', open(2, 1))).toBe(AnswerKind.CODE);
    // ... the PIN only when PIN challenges alone are open.
    expect(answerKind('confirm', open(1, 0))).toBe(AnswerKind.PIN);
    expect(answerKind('confirm', open(0, 0))).toBe(AnswerKind.NOTHING_OPEN);
    // A bare number is a PIN answer only, never a code, whatever codes are open.
    expect(answerKind('pin', open(1, 3))).toBe(AnswerKind.PIN);
    expect(answerKind('pin', open(0, 3))).toBe(AnswerKind.NO_PIN_CHALLENGE);
    expect(answerKind('pin', open(0, 0))).toBe(AnswerKind.NO_PIN_CHALLENGE);
    expect(() => answerKind('pin', open(-1, 0))).toThrow(RangeError);
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
  it('locks at the fifth wrong answer, for the lockout, then starts afresh', () => {
    let state = fresh;
    for (let i = 0; i < 4; i++) {
      const outcome = recordWrongAnswer(state, 1_000 + i, rules);
      expect(outcome.locked).toBe(false);
      state = outcome.state;
    }
    const fifth = recordWrongAnswer(state, 2_000, rules);
    expect(fifth).toMatchObject({ locked: true, lockedUntilMs: 2_000 + rules.lockoutMs });
    expect(isCodeLocked(fifth.state, 2_000 + rules.lockoutMs - 1)).toBe(true);
    expect(isCodeLocked(fifth.state, 2_000 + rules.lockoutMs)).toBe(false);
    expect(fifth.state.wrongAtMs).toEqual([]);
  });

  it('one wrong reply is one wrong answer, however many codes are open', () => {
    // The issue counts answers: a typo with five codes open must not lock the subscriber out.
    expect(recordWrongAnswer(fresh, 0, rules)).toEqual({ locked: false, state: { wrongAtMs: [0], lockedUntilMs: null } });
  });

  it('forgets wrong answers older than the window (sliding)', () => {
    let old = fresh;
    for (let i = 0; i < 4; i++) old = recordWrongAnswer(old, 0, rules).state;
    expect(recordWrongAnswer(old, rules.windowMs - 1, rules).locked).toBe(true);
    const later = recordWrongAnswer(old, rules.windowMs, rules);
    expect(later).toMatchObject({ locked: false, state: { wrongAtMs: [rules.windowMs] } });
  });

  it('never lets as many as the most wrong answers through in any window, and keeps its state bounded (property)', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 120_000 }), { maxLength: 200 }), (gapsMs) => {
      let state = fresh;
      let nowMs = 0;
      const allowed: number[] = []; // when each wrong answer got an answer without a lockout
      for (const gapMs of gapsMs) {
        nowMs += gapMs;
        if (isCodeLocked(state, nowMs)) continue; // the shell compares nothing while locked
        const outcome = recordWrongAnswer(state, nowMs, rules);
        if (!outcome.locked) allowed.push(nowMs);
        state = outcome.state;
        expect(state.wrongAtMs.length).toBeLessThan(rules.wrongAnswersMax);
      }
      for (const at of allowed) {
        expect(allowed.filter((t) => t >= at && t < at + rules.windowMs).length).toBeLessThan(rules.wrongAnswersMax);
      }
    }));
  });
});
