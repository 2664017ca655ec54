// The JSON form of a payment as merchants see it, in API responses and in
// webhook bodies: one shape, documented in the OpenAPI document.
import { moneyFromProto, unixMsFromProto, type dialpay, type Int64Like } from './index.js';

/** An instant as the JSON shows it; a required one (created, updated) is shown even when 0. */
const iso = (ms: Int64Like): string => new Date(unixMsFromProto(ms)).toISOString();
/** An optional instant (expiry, confirm-by): null when unset. */
const isoOrNull = (ms: Int64Like): string | null => (unixMsFromProto(ms) > 0 ? iso(ms) : null);

export function merchantPaymentJson(p: dialpay.v1.IMerchantPayment): Record<string, unknown> {
  const amount = moneyFromProto(p.amount);
  return {
    id: p.paymentId, status: p.status, amountMinor: Number(amount.amountMinor), feeMinor: Number(moneyFromProto(p.fee).amountMinor),
    currency: amount.currency,
    msisdn: p.msisdn, reference: p.reference ?? '', description: p.description ?? '',
    createdAt: isoOrNull(p.createdAtUnixMs), updatedAt: isoOrNull(p.updatedAtUnixMs), expiresAt: isoOrNull(p.expiresAtUnixMs),
    failureReason: p.failureReason || null,
    captureMode: p.captureMode || 'automatic', authorizedMinor: p.authorized ? Number(moneyFromProto(p.authorized).amountMinor) : null,
    refundedMinor: p.refunded ? Number(moneyFromProto(p.refunded).amountMinor) : 0,
  };
}

export function merchantRefundJson(r: dialpay.v1.IMerchantRefund): Record<string, unknown> {
  const amount = moneyFromProto(r.amount);
  return {
    id: r.refundId, status: r.status, amountMinor: Number(amount.amountMinor), currency: amount.currency, createdAt: iso(r.createdAtUnixMs),
  };
}

export function merchantMandateJson(m: dialpay.v1.IMerchantMandate): Record<string, unknown> {
  const cap = moneyFromProto(m.cap);
  return {
    id: m.mandateId, status: m.status, capMinor: Number(cap.amountMinor), currency: cap.currency, period: m.period, msisdn: m.msisdn,
    reference: m.reference ?? '', description: m.description ?? '',
    chargedThisPeriodMinor: Number(moneyFromProto(m.chargedThisPeriod).amountMinor),
    createdAt: iso(m.createdAtUnixMs), confirmBy: isoOrNull(m.expiresAtUnixMs),
  };
}

export function merchantSettlementJson(m: dialpay.v1.IMerchantSettlement): Record<string, unknown> {
  const minor = (money: dialpay.v1.IMoney | null | undefined) => Number(moneyFromProto(money).amountMinor);
  return {
    windowId: m.windowId, operatorId: m.operatorId, from: iso(m.fromUnixMs), to: iso(m.toUnixMs), status: m.status,
    currency: moneyFromProto(m.gross).currency,
    payments: m.payments ?? 0, refunds: m.refunds ?? 0, grossMinor: minor(m.gross), refundsMinor: minor(m.refundsTotal),
    feesMinor: minor(m.fees),
    operatorShareMinor: minor(m.operatorShare), netPayableMinor: minor(m.netPayable), paidOutMinor: m.paidOut ? minor(m.paidOut) : 0,
    payouts: m.payouts ?? 0, payoutsMinor: m.payoutsTotal ? minor(m.payoutsTotal) : 0,
  };
}

/** A credit (a merchant's payout, an operator's deposit) as its caller sees it. */
function creditJson(c: dialpay.v1.IMerchantPayout | dialpay.v1.IOperatorDeposit, id: string | null | undefined): Record<string, unknown> {
  const amount = moneyFromProto(c.amount);
  return {
    id, status: c.status, amountMinor: Number(amount.amountMinor), currency: amount.currency, msisdn: c.msisdn,
    reference: c.reference ?? '',
    failureReason: c.failureReason || null, createdAt: iso(c.createdAtUnixMs), updatedAt: iso(c.updatedAtUnixMs),
  };
}

export function merchantPayoutJson(p: dialpay.v1.IMerchantPayout): Record<string, unknown> {
  return creditJson(p, p.payoutId);
}

export function operatorDepositJson(d: dialpay.v1.IOperatorDeposit): Record<string, unknown> {
  return creditJson(d, d.depositId);
}

/** One of an operator's agents as the operator API shows it: its line masked, its float now. */
export function operatorAgentJson(a: dialpay.v1.IOperatorAgent): Record<string, unknown> {
  const float = moneyFromProto(a.floatBalance);
  return {
    agentId: a.agentId, name: a.name, state: a.state, msisdn: a.msisdnMasked, floatBalanceMinor: Number(float.amountMinor),
    currency: float.currency,
  };
}

/** A float top-up booked (now or before, under the same reference), and the float after it. */
export function operatorFloatTopUpJson(t: dialpay.v1.IOperatorFloatTopUp): Record<string, unknown> {
  const amount = moneyFromProto(t.amount);
  return {
    agentId: t.agentId, reference: t.reference, amountMinor: Number(amount.amountMinor), currency: amount.currency, status: t.status,
    transferId: t.transferId,
    floatBalanceMinor: Number(moneyFromProto(t.floatBalance).amountMinor),
  };
}

/** A subscriber's KYC tier after PUT /v1/operator/subscribers/{msisdn}/kyc-tier. */
export function operatorKycTierJson(s: dialpay.v1.IOperatorSubscriber): Record<string, unknown> {
  return { msisdn: s.msisdn, kycTier: s.kycTier ?? 0, previousKycTier: s.previousKycTier ?? 0, changed: s.changed === true };
}

/** A subscriber's block after POST /v1/operator/subscribers/{msisdn}/block or /unblock. */
export function operatorBlockJson(s: dialpay.v1.IOperatorSubscriber): Record<string, unknown> {
  return { msisdn: s.msisdn, blocked: s.blocked === true, changed: s.changed === true };
}
