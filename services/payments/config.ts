// Payments' config: the fee schedules merchants and cash-outs are charged by, the limits (KYC
// tiers, rates, challenge bounds), and each merchant's fee schedule and payouts. Joined to the
// runtime's by composeConfigSchema (cli/config.ts).
import { z } from 'zod';
import { amountMinor, id, positiveMs } from '../../runtime/config/fields.js';
import { uniqueIds, type ConfigPart } from '../../runtime/config/schema.js';

const feeSchedule = z.strictObject({
  id,
  fixedMinor: amountMinor,
  percentBps: z.number().int().min(0).max(10_000),
});

const kycTier = z.strictObject({
  tier: z.number().int().min(0).max(9),
  perTransactionMaxMinor: amountMinor,
  dailyMaxMinor: amountMinor,
  monthlyMaxMinor: amountMinor,
  /**
   * The most a subscriber of this tier may hold in their dialpay wallet: an agent's cash-in that
   * would take it past this is refused (billing checks it under the wallet's row lock). Absent: no cap.
   */
  walletBalanceMaxMinor: amountMinor.optional(),
});

const limits = z.strictObject({
  tiers: z.array(kycTier).min(1),
  paymentsPerMinuteMax: z.number().int().min(1).max(1000).default(5),
  pinAttemptsMax: z.number().int().min(1).max(10).default(3),
  challengeTtlMs: positiveMs.default(120_000),
  /** A manual-capture authorization the merchant does not capture within this is voided. */
  authorizationTtlMs: positiveMs.default(86_400_000),
  /** Payments above this amount ask for the PIN instead of a one-time code. */
  pinRequiredAboveMinor: amountMinor.default(100_000n),
  /** Merchant API requests and pending mandates one merchant may have waiting for one subscriber's answer at once. */
  merchantOpenRequestsPerSubscriberMax: z.number().int().min(1).max(100).default(3),
  /** The same over all merchants: also bounds how many codes one `YES <code>` is compared with. */
  merchantOpenRequestsPerSubscriberTotalMax: z.number().int().min(1).max(100).default(5),
  /** One merchant's requests to one subscriber that expired unanswered in a rolling 24 h; past it, new ones are refused. */
  merchantUnansweredRequestsPerDayMax: z.number().int().min(1).max(1000).default(5),
  /** Wrong confirmation codes per subscriber, over all their open challenges, within the window... */
  wrongAnswersPerSubscriberMax: z.number().int().min(1).max(100).default(5),
  wrongAnswersWindowMs: positiveMs.default(15 * 60_000),
  /** ...then confirmations by code are refused this long. */
  codeLockoutMs: positiveMs.default(15 * 60_000),
});

const ratioBps = z.number().int().min(0).max(10_000);
const currency = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as KES');

/**
 * Risk rules beyond the limits (risk-rules.ts): each one off unless configured. A payment a rule stops is
 * held (state 'held', nothing reserved, no challenge) with a care case, and the payer is told by SMS.
 */
const risk = z.strictObject({
  /** A held payment customer care neither released nor rejected within this fails (hold-expired). */
  holdTtlMs: positiveMs.default(86_400_000),
  /** More than `max` different payees in `windowMs` (this payment's included): every attempt counts, failed ones too. */
  distinctPayees: z.strictObject({ max: z.number().int().min(1).max(100), windowMs: positiveMs }).optional(),
  /**
   * A payee this payer never completed a payment to, for more than this, per currency (minor units of
   * that currency; an operator's currency absent from it: the rule is off there).
   */
  newPayeeAmountMinor: z.record(currency, amountMinor).optional(),
  /**
   * A merchant whose latest payments within `windowMs` (at least `minPayments` of them) failed, or were
   * refunded, more than these shares (basis points: 2500 = 25 %).
   */
  merchantSpike: z.strictObject({
    windowMs: positiveMs, minPayments: z.number().int().min(1).max(1000), refundRatioMaxBps: ratioBps, failureRatioMaxBps: ratioBps,
  }).optional(),
}).prefault({});

const sections = z.strictObject({
  feeSchedules: z.array(feeSchedule).min(1),
  limits,
  risk,
});

/** What payments reads of each merchant: the fee schedule it is charged by, and its payouts. */
const merchantFields = z.strictObject({
  feeScheduleId: id,
  /**
   * Payouts (POST /v1/payouts: business to customer, from this merchant's available balance into a
   * subscriber's dialpay wallet). Absent: payouts are refused (403). perDayMaxMinor counts this
   * merchant's payouts not failed since 00:00 UTC.
   */
  payouts: z.strictObject({ perPayoutMaxMinor: amountMinor, perDayMaxMinor: amountMinor }).optional(),
});

export type PaymentsConfigSections = z.output<typeof sections>;

declare module '../../runtime/config/schema.js' {
  interface ComponentConfigSections {
    payments: PaymentsConfigSections;
  }
  interface ComponentMerchantFields {
    payments: z.output<typeof merchantFields>;
  }
}

export const PAYMENTS_CONFIG: ConfigPart = {
  sections: sections.shape,
  merchantFields: merchantFields.shape,
  // The fee schedules are named by merchants and by operators' cash-outs; a payout's and a tier's bounds nest.
  check(config, ctx) {
    const feeIds = uniqueIds(config.feeSchedules, 'feeSchedules', ctx);
    config.merchants.forEach((m, i) => {
      if (!feeIds.has(m.feeScheduleId)) {
        ctx.addIssue({ code: 'custom', path: ['merchants', i, 'feeScheduleId'], message: `unknown fee schedule "${m.feeScheduleId}"` });
      }
      if (m.payouts && m.payouts.perPayoutMaxMinor > m.payouts.perDayMaxMinor) {
        ctx.addIssue({ code: 'custom', path: ['merchants', i, 'payouts', 'perPayoutMaxMinor'], message: 'must not exceed perDayMaxMinor' });
      }
    });
    config.operators.forEach((op, i) => {
      if (op.cashOutFeeScheduleId !== undefined && !feeIds.has(op.cashOutFeeScheduleId)) {
        ctx.addIssue({ code: 'custom', path: ['operators', i, 'cashOutFeeScheduleId'],
          message: `unknown fee schedule "${op.cashOutFeeScheduleId}"` });
      }
    });
    const currencies = new Set(config.operators.map((o) => o.currency));
    for (const code of Object.keys(config.risk.newPayeeAmountMinor ?? {})) {
      if (!currencies.has(code)) {
        ctx.addIssue({ code: 'custom', path: ['risk', 'newPayeeAmountMinor', code], message: `no operator uses currency "${code}"` });
      }
    }
    config.limits.tiers.forEach((t, i) => {
      if (t.perTransactionMaxMinor > t.dailyMaxMinor) {
        ctx.addIssue({ code: 'custom', path: ['limits', 'tiers', i, 'perTransactionMaxMinor'], message: 'must not exceed dailyMaxMinor' });
      }
      if (t.dailyMaxMinor > t.monthlyMaxMinor) {
        ctx.addIssue({ code: 'custom', path: ['limits', 'tiers', i, 'dailyMaxMinor'], message: 'must not exceed monthlyMaxMinor' });
      }
    });
  },
};
