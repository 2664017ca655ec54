// Guessing one-time codes, bounded per subscriber. The three-wrong-answers
// rule is per challenge, so with several challenges open a guesser gets three
// tries at each, and one `YES 1234` is compared with every open code. This
// rule counts each comparison that failed, over all the subscriber's open
// challenges, in a sliding window; at the bound, confirmations by code stop
// for a lockout. Pure: the shell keeps the state on the subscriber's row.

export interface CodeGuessRules {
  /** Wrong comparisons allowed within the window; reaching it starts the lockout. */
  readonly wrongAnswersMax: number;
  readonly windowMs: number;
  readonly lockoutMs: number;
}

export interface CodeGuessState {
  /** When each recent wrong comparison happened, oldest first; at most wrongAnswersMax kept. */
  readonly wrongAtMs: readonly number[];
  readonly lockedUntilMs: number | null;
}

export type WrongAnswerOutcome =
  | { readonly locked: false; readonly state: CodeGuessState }
  | { readonly locked: true; readonly state: CodeGuessState; readonly lockedUntilMs: number };

export function isCodeLocked(state: CodeGuessState, nowMs: number): boolean {
  return state.lockedUntilMs !== null && state.lockedUntilMs > nowMs;
}

/**
 * A confirmation matched none of the `comparisons` open codes it was checked against. Each
 * comparison is one guess: with five codes open, one wrong reply is five guesses, so opening
 * more challenges buys a guesser no more chances.
 */
export function recordWrongAnswer(state: CodeGuessState, comparisons: number, nowMs: number, rules: CodeGuessRules): WrongAnswerOutcome {
  if (!Number.isInteger(comparisons) || comparisons < 1) throw new RangeError(`comparisons must be a positive integer, got ${comparisons}`);
  const recent = state.wrongAtMs.filter((at) => at > nowMs - rules.windowMs);
  const count = recent.length + comparisons;
  if (count >= rules.wrongAnswersMax) {
    const lockedUntilMs = nowMs + rules.lockoutMs;
    // The count starts afresh after the lockout: the lockout was the penalty for these.
    return { locked: true, lockedUntilMs, state: { wrongAtMs: [], lockedUntilMs } };
  }
  const added = Array.from({ length: comparisons }, () => nowMs);
  return { locked: false, state: { wrongAtMs: [...recent, ...added].slice(-rules.wrongAnswersMax), lockedUntilMs: state.lockedUntilMs } };
}
