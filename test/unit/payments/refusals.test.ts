// Payments' refusal table (services/payments/refusals.ts) and README.md's "Refusals" table are the
// same list: every code once, with its retryable flag and English text, in the same order.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../support/stack.js';
import { LANGUAGES } from '../../../runtime/language.js';
import { FAILURE_REFUSAL, LIMIT_REFUSAL, REFUSALS, cashInFailedReply, failedReply, limitReply, refusalText } from '../../../services/payments/refusals.js';
import { FailureReason } from '../../../services/payments/state.js';
import { LimitKind } from '../../../services/payments/limits.js';

/** Each argument a text takes, shown as <name>. */
const PLACEHOLDERS = new Proxy({}, { get: (_target, name) => `<${String(name)}>` }) as Record<string, string>;

function readmeRows(): string[][] {
  const readme = readFileSync(`${ROOT}README.md`, 'utf8');
  const section = readme.split('\n### Refusals\n')[1]?.split('\n#')[0];
  if (!section) throw new Error('README.md has no "### Refusals" section');
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => line.slice(1, -1).split(' | ').map((cell) => cell.trim().replace(/^`|`$/g, '')));
}

describe('payments refusals', () => {
  it('README.md lists every code, its retryable flag and English text, as the table has them', () => {
    const table = Object.entries(REFUSALS).map(([code, r]) => [code, r.retryable ? 'yes' : 'no', r.text.en(PLACEHOLDERS)]);
    expect(readmeRows()).toEqual(table);
  });

  it('every refusal has a non-empty text in each language, and codes are snake_case', () => {
    for (const [code, r] of Object.entries(REFUSALS)) {
      expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
      for (const language of LANGUAGES) expect(r.text[language](PLACEHOLDERS).length, `${code} ${language}`).toBeGreaterThan(0);
    }
  });

  it('every failure reason and limit has its refusal', () => {
    expect(Object.keys(FAILURE_REFUSAL).sort()).toEqual(Object.values(FailureReason).sort());
    expect(Object.keys(LIMIT_REFUSAL).sort()).toEqual(Object.values(LimitKind).sort());
  });

  it('builds the replies subscribers read from the table', () => {
    expect(failedReply(FailureReason.INSUFFICIENT_FUNDS, 50_000n, 'KES', 'en')).toBe('Payment of 500.00 KES failed: insufficient balance. Nothing was charged.');
    expect(failedReply(FailureReason.INSUFFICIENT_FUNDS, 50_000n, 'KES', 'en')).toBe(refusalText('insufficient_funds', 'en', { amount: '500.00 KES' }));
    expect(limitReply(LimitKind.VELOCITY, 0n, 'KES', 'fr')).toBe('Paiement refuse: trop de paiements en une minute, reessayez bientot.');
    expect(cashInFailedReply(FailureReason.EXPIRED, 50_000n, 'KES', '+254700000003', 'en')).toBe('Deposit of 500.00 KES to +254700000003 failed: not confirmed in time. Nothing was moved.');
  });
});
