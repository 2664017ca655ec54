// Guessing one-time codes, bounded per subscriber. The three-wrong-answers
// rule is per challenge, so with several challenges open a guesser would get
// three tries at each. This rule counts wrong answers (each `YES <code>` that
// matched none of the subscriber's open codes is one, however many codes it
// was compared with) over all the subscriber's open challenges, in a sliding
// window; at the bound, confirmations by code stop for a lockout. How many
// codes one answer is compared with is bounded apart, by bounding the open
// challenges merchants may start (merchant-requests.ts), so a merchant cannot
// turn one typo into a lockout by opening many. Pure: the shell keeps the
// state on the subscriber's row.

export interface CodeGuessRules {
  /** Wrong answers allowed within the window; reaching it starts the lockout. */
  readonly wrongAnswersMax: number;
  readonly windowMs: number;
  readonly lockoutMs: number;
}

export interface CodeGuessState {
  /** When each recent wrong answer came, oldest first; fewer than wrongAnswersMax kept. */
  readonly wrongAtMs: readonly number[];
  readonly lockedUntilMs: number | null;
}

export type WrongAnswerOutcome =
  | { readonly locked: false; readonly state: CodeGuessState }
  | { readonly locked: true; readonly state: CodeGuessState; readonly lockedUntilMs: number };

export function isCodeLocked(state: CodeGuessState, nowMs: number): boolean {
  return state.lockedUntilMs !== null && state.lockedUntilMs > nowMs;
}

/** One confirmation matched none of the open codes: one wrong answer. */
export function recordWrongAnswer(state: CodeGuessState, nowMs: number, rules: CodeGuessRules): WrongAnswerOutcome {
  const recent = state.wrongAtMs.filter((at) => at > nowMs - rules.windowMs);
  if (recent.length + 1 >= rules.wrongAnswersMax) {
    const lockedUntilMs = nowMs + rules.lockoutMs;
    // The count starts afresh after the lockout: the lockout was the penalty for these.
    return { locked: true, lockedUntilMs, state: { wrongAtMs: [], lockedUntilMs } };
  }
  return { locked: false, state: { wrongAtMs: [...recent, nowMs], lockedUntilMs: state.lockedUntilMs } };
}
