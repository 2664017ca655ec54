// The screens a reserve passes before its claim (debit-reserves.ts): the SIM-swap check of the
// reserves that ask for it (sim-swap.ts), after care's release of a held payment has taken its
// risk hold away. A reserve held here is a refusal, DEBIT_OUTCOME_RISK_HOLD: never claimed.
import { DebitOutcome, type DebitContext } from './debit-context.js';
import type { ReserveCheck, ReserveRefusal } from './debit-reserves.js';

/**
 * The SIM-swap check (sim-swap.ts) of the checks whose request asks for it, before their claim, side
 * by side: a hold becomes a refusal, DEBIT_OUTCOME_RISK_HOLD, and nothing is claimed. In order.
 */
export async function screenSimSwaps<C extends ReserveCheck>(ctx: DebitContext, checks: readonly C[]): Promise<(C | ReserveRefusal)[]> {
  await clearRiskHolds(ctx, checks);
  const asks = checks.flatMap((c) => (c.kind === 'claim' && !c.request.riskCleared && (c.request.simSwapMaxAgeHours ?? 0) > 0 ? [{
    debitId: c.debitId, paymentId: c.paymentId, operator: c.operator, msisdn: c.msisdn, maxAgeHours: c.request.simSwapMaxAgeHours as number,
  }] : []));
  if (!ctx.simSwap || asks.length === 0) return [...checks];
  const held = await ctx.simSwap.holds(ctx.pool, asks);
  return checks.map((c) => {
    const detail = held.get(c.debitId);
    if (c.kind !== 'claim' || detail === undefined) return c;
    const { request, debitId, paymentId, amount } = c;
    return { kind: 'refuse', request, debitId, paymentId, amount, outcome: DebitOutcome.DEBIT_OUTCOME_RISK_HOLD, detail };
  });
}

/**
 * Care released a payment a risk check held (risk_cleared): the debit's refusal, which reserved
 * nothing, is taken away so the claim starts afresh; one statement. A debit in any other state
 * (reserved by an earlier delivery of the release) stays as it is.
 */
async function clearRiskHolds(ctx: DebitContext, checks: readonly ReserveCheck[]): Promise<void> {
  const cleared = checks.flatMap((c) => (c.kind === 'claim' && c.request.riskCleared ? [c.debitId] : []));
  if (cleared.length === 0) return;
  await ctx.pool.query(
    `DELETE FROM billing.debits WHERE debit_id = ANY ($1::text[]) AND state = 'refused' AND detail LIKE $2`,
    [cleared, `${DebitOutcome.DEBIT_OUTCOME_RISK_HOLD}:%`],
  );
}
