// What kind of answer an SMS reply's digits are, decided before any secret is
// compared: one reply is ONE kind of answer, so a wrong one counts against that
// kind only (a code guess, or a PIN failure, never both), and a PIN is never
// compared with one-time codes nor a code with the PIN. Pure.
//
// `YES <digits>` is a code answer whenever a code challenge (a payment's or a
// pending mandate's) is open: codes name their payment, a PIN does not. It is a
// PIN answer only when PIN challenges alone are open (people write what the
// code challenge taught them). A bare number is a PIN answer only; with no PIN
// challenge open it answers nothing and counts nothing.

export const AnswerKind = {
  CODE: 'code',
  PIN: 'pin',
  /** `YES <digits>` with no challenge of either kind open. */
  NOTHING_OPEN: 'nothing-open',
  /** A bare number with no PIN challenge open. */
  NO_PIN_CHALLENGE: 'no-pin-challenge',
} as const;
export type AnswerKindValue = (typeof AnswerKind)[keyof typeof AnswerKind];

export interface OpenChallenges {
  /** Open payment challenges answered by the PIN. */
  readonly pin: number;
  /** Open payment challenges answered by a one-time code, and pending mandates. */
  readonly code: number;
}

export function answerKind(reply: 'confirm' | 'pin', open: OpenChallenges): AnswerKindValue {
  if (!Number.isInteger(open.pin) || !Number.isInteger(open.code) || open.pin < 0 || open.code < 0) {
    throw new RangeError('open challenge counts must be non-negative integers');
  }
  if (reply === 'pin') return open.pin > 0 ? AnswerKind.PIN : AnswerKind.NO_PIN_CHALLENGE;
  if (open.code > 0) return AnswerKind.CODE;
  return open.pin > 0 ? AnswerKind.PIN : AnswerKind.NOTHING_OPEN;
}
