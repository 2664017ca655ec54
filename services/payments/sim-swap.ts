// The SIM-swap check before money leaves (billing asks the operator's CAMARA SIM Swap API,
// services/billing/sim-swap.ts): payments only decides whether a payment needs it and says so in
// DebitReserveRequested.sim_swap_max_age_hours. It is the payer's own spending that a stolen
// number would drain: a payment, a transfer, airtime, a withdrawal (the payer confirms, the money
// leaves their account). Not a cash-in (the agent's float pays, the payer's SIM is not the risk)
// nor a mandate charge (consent given in advance, no confirmation on the phone). An operator
// without the API skips the check; that is counted, so a gap in the cover shows on a dashboard.
import type pg from 'pg';
import type { OperatorConfig } from '../../runtime/config/index.js';
import { Counter, type Registry } from '../../runtime/metrics.js';
import { onAfterCommit } from '../../runtime/pg/index.js';
import type { PaymentSpec } from './rows.js';

export type SimSwapDecision =
  | { readonly kind: 'check'; readonly maxAgeHours: number }
  /** The payer is not the one spending (cash-in, mandate charge), or the amount is under the operator's threshold. */
  | { readonly kind: 'not-needed' }
  /** It would be needed, but the payer's operator has no SIM Swap API configured. */
  | { readonly kind: 'skipped' };

/** Whether this payment needs the check. Pure. `amountMinor`: what leaves the payer (the split's amount). */
export function simSwapDecision(
  operator: Pick<OperatorConfig, 'simSwap'>, spec: Pick<PaymentSpec, 'agentId' | 'mandateId'>, amountMinor: bigint,
): SimSwapDecision {
  if (spec.agentId || spec.mandateId) return { kind: 'not-needed' };
  const api = operator.simSwap;
  if (!api) return { kind: 'skipped' };
  if (amountMinor < api.checkAboveMinor) return { kind: 'not-needed' };
  return { kind: 'check', maxAgeHours: api.maxAgeHours };
}

/** dialpay_sim_swap_checks_total as payments counts it: outcome "skipped" only (billing counts the others). */
export class SimSwapMetrics {
  readonly checks: Counter<'operator' | 'outcome'>;

  constructor(registry: Registry) {
    this.checks = new Counter({
      name: 'dialpay_sim_swap_checks_total',
      help: 'SIM-swap checks before money leaves, by operator and outcome (swapped, not-swapped, unavailable: billing; '
        + 'skipped: payments, the operator has no SIM Swap API).',
      labelNames: ['operator', 'outcome'],
      registers: [registry],
    });
  }

  skipped(operatorId: string): void {
    this.checks.inc({ operator: operatorId, outcome: 'skipped' });
  }
}

/**
 * engine.open's one call: the hours for DebitReserveRequested.sim_swap_max_age_hours (0: no check),
 * a skip counted once the payment's transaction commits.
 */
export function simSwapMaxAgeHours(
  metrics: SimSwapMetrics | null | undefined, client: pg.ClientBase, operator: OperatorConfig, spec: PaymentSpec, amountMinor: bigint,
): number {
  const decision = simSwapDecision(operator, spec, amountMinor);
  if (decision.kind === 'skipped' && metrics) onAfterCommit(client, () => metrics.skipped(operator.id));
  return decision.kind === 'check' ? decision.maxAgeHours : 0;
}
