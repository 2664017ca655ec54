// The risk rules' shell (risk-rules.ts is the pure part): called by open() after the limits, for a
// payment its payer starts by SMS or USSD. Fetches the facts of the configured rules that apply, in
// the opening transaction, stops at the first rule that holds, and counts each decision.
// Not screened: an agent's cash-in (its float, checked by cash.ts), airtime (the payer's or a line's
// credit), and merchant API requests and mandate charges (the payer did not start them; a hold would
// text them about a payment they never asked for).
import type pg from 'pg';
import { allowedWithoutFacts, holds, RiskRule, rulesFor, type RiskFacts, type RiskRuleValue, type ScreenedPayment } from './risk-rules.js';
import { merchantOutcomes, paidBefore, recentPayees } from './risk-store.js';
import type { PaymentSpec } from './rows.js';
import type { PaymentEngine } from './engine.js';

/** The rule that holds this payment, or null to let it go on. */
export async function screenPayment(
  engine: PaymentEngine, client: pg.ClientBase, msisdn: string, spec: PaymentSpec, amountMinor: bigint, currency: string,
): Promise<RiskRuleValue | null> {
  if (spec.channel === 'api' || spec.agentId || spec.payee.kind === 'airtime') return null;
  const config = engine.config.risk;
  const payment: ScreenedPayment = { amountMinor, currency, payeeKind: spec.payee.kind, payeeId: spec.payee.id };
  for (const rule of allowedWithoutFacts(config, payment)) engine.metrics?.riskDecided(client, rule, 'allow');
  for (const rule of rulesFor(config, payment)) {
    const held = holds(config, payment, await factsFor(engine, client, rule, msisdn, payment));
    engine.metrics?.riskDecided(client, rule, held ? 'hold' : 'allow');
    if (held) return rule;
  }
  return null;
}

async function factsFor(
  engine: PaymentEngine, client: pg.ClientBase, rule: RiskRuleValue, msisdn: string, payment: ScreenedPayment,
): Promise<RiskFacts> {
  const config = engine.config.risk;
  switch (rule) {
    case RiskRule.NEW_PAYEE:
      return { rule, paidBefore: await paidBefore(client, msisdn, payment.payeeKind, payment.payeeId) };
    case RiskRule.DISTINCT_PAYEES: {
      const { max, windowMs } = config.distinctPayees as NonNullable<typeof config.distinctPayees>;
      return { rule, recentPayees: await recentPayees(client, msisdn, windowMs, max + 1) };
    }
    case RiskRule.MERCHANT_SPIKE: {
      const { windowMs } = config.merchantSpike as NonNullable<typeof config.merchantSpike>;
      return { rule, ...(await merchantOutcomes(client, payment.payeeId, windowMs)) };
    }
  }
}
