// Risk rules beyond the limits, evaluated when a payer starts a payment (risk.ts). Pure, like
// limits.ts: the caller supplies the facts each rule needs, and asks first which rules apply, so it
// fetches only those facts (a rule not configured costs nothing). A rule that fires holds the
// payment for customer care (holds.ts); it is never a refusal the payer could work around by retrying.

export const RiskRule = { NEW_PAYEE: 'new-payee', DISTINCT_PAYEES: 'distinct-payees', MERCHANT_SPIKE: 'merchant-spike' } as const;
export type RiskRuleValue = (typeof RiskRule)[keyof typeof RiskRule];

export interface RiskRulesConfig {
  readonly distinctPayees?: { readonly max: number; readonly windowMs: number } | undefined;
  /** Per currency (minor units); a currency absent: the rule is off for it. */
  readonly newPayeeAmountMinor?: Readonly<Record<string, bigint>> | undefined;
  readonly merchantSpike?: {
    readonly windowMs: number; readonly minPayments: number; readonly refundRatioMaxBps: number; readonly failureRatioMaxBps: number;
  } | undefined;
}

export interface ScreenedPayment {
  readonly amountMinor: bigint;
  readonly currency: string;
  readonly payeeKind: 'merchant' | 'subscriber' | 'agent' | 'airtime';
  readonly payeeId: string;
}

/** The facts, each fetched only for a rule that applies. */
export type RiskFacts =
  /** Whether this payer ever completed a payment to this payee. */
  | { readonly rule: 'new-payee'; readonly paidBefore: boolean }
  /** The payer's distinct payees ("kind:id") within the window, at most max + 1 of them (more cannot change the answer). */
  | { readonly rule: 'distinct-payees'; readonly recentPayees: readonly string[] }
  /** The merchant's latest payments within the window: how many, how many failed, how many were refunded. */
  | { readonly rule: 'merchant-spike'; readonly payments: number; readonly failed: number; readonly refunded: number };

export const payeeKey = (kind: string, id: string): string => `${kind}:${id}`;

/**
 * The configured rules that apply to this payment, cheapest facts first. new-payee applies only above
 * its amount for the payment's currency (below it, it allows without a fact: not listed, and counted
 * as allowed by the caller through `allowedWithoutFacts`).
 */
export function rulesFor(config: RiskRulesConfig, payment: ScreenedPayment): RiskRuleValue[] {
  const rules: RiskRuleValue[] = [];
  const newPayeeMinor = config.newPayeeAmountMinor?.[payment.currency];
  if (newPayeeMinor !== undefined && payment.amountMinor > newPayeeMinor) rules.push(RiskRule.NEW_PAYEE);
  if (config.distinctPayees) rules.push(RiskRule.DISTINCT_PAYEES);
  if (config.merchantSpike && payment.payeeKind === 'merchant') rules.push(RiskRule.MERCHANT_SPIKE);
  return rules;
}

/** Configured rules that allow this payment with no fact to look at (new-payee at or below its amount). */
export function allowedWithoutFacts(config: RiskRulesConfig, payment: ScreenedPayment): RiskRuleValue[] {
  const newPayeeMinor = config.newPayeeAmountMinor?.[payment.currency];
  return newPayeeMinor !== undefined && payment.amountMinor <= newPayeeMinor ? [RiskRule.NEW_PAYEE] : [];
}

/** Whether the rule holds this payment, given its facts. */
export function holds(config: RiskRulesConfig, payment: ScreenedPayment, facts: RiskFacts): boolean {
  switch (facts.rule) {
    case 'new-payee':
      return !facts.paidBefore;
    case 'distinct-payees': {
      const rule = config.distinctPayees;
      if (!rule) return false;
      const known = facts.recentPayees.includes(payeeKey(payment.payeeKind, payment.payeeId));
      return facts.recentPayees.length + (known ? 0 : 1) > rule.max;
    }
    case 'merchant-spike': {
      const rule = config.merchantSpike;
      if (!rule || facts.payments < rule.minPayments) return false;
      // Integer shares: failed / payments > bps / 10 000, without division.
      return facts.failed * 10_000 > rule.failureRatioMaxBps * facts.payments
        || facts.refunded * 10_000 > rule.refundRatioMaxBps * facts.payments;
    }
  }
}
