// Cash-in and cash-out at an agent (issue 16): payments like any other, through
// the engine's open/step, with these differences.
//
// Cash-in, `DEP <number> <amount>` (or the USSD agent menu) from a registered, active agent's line: the
// payer is the agent's line, the agent's float pays (funding 'agent-float' with
// agent_id in the reserve request), the payee is the depositor's wallet on the
// agent's own operator. Always confirmed with the agent's PIN. The capture
// carries the payee's wallet cap (their KYC tier's walletBalanceMaxMinor):
// billing refuses the credit ("wallet-balance-max") rather than exceed it.
// It is not the agent's spending: no payer limits, and it does not count toward them.
//
// Cash-out, `WITHDRAW <agent> <amount>` (or the USSD menu) from a subscriber: payee kind 'agent',
// always from the wallet (never the carrier), the fee on top (fees.ts
// splitCashOut): the wallet pays amount + fee, the agent's float gets the
// amount, and the agent is told by SMS to hand the cash over.
import type pg from 'pg';
import { markSecrets, type SecretText } from '../../proto/index.js';
import type { Config, OperatorConfig } from '../../runtime/config/index.js';
import { maskMsisdn } from '../../runtime/log.js';
import { formatAmount } from '../../runtime/money.js';
import type { Language } from '../../runtime/language.js';
import { splitCashOut, type PaymentSplit } from './fees.js';
import { agentByMsisdn, readAgent, type AgentRow } from './agents.js';
import { reply } from './replies.js';
import { cashInFailedReply, limitReply, refusalText } from './refusals.js';
import { routeTransfer, payeeReceiptRoute, transferRefusalText } from './transfers.js';
import { LimitKind, tierOf } from './limits.js';
import { FailureReason, type FailureReasonValue } from './state.js';
import * as store from './store.js';
import { payerOf, type PaymentRow, type PaymentSpec, type SubscriberRow } from './rows.js';
import type { Opened, PaymentEngine } from './engine.js';
import { SMS_RECEIPT } from './sms-options.js';

/** A cash-in or a cash-out: its texts are this module's. */
export function isCashPayment(payment: Pick<PaymentRow, 'agent_id' | 'payee_kind'>): boolean {
  return payment.agent_id !== null || payment.payee_kind === 'agent';
}

/** How an agent is named to subscribers. */
export function agentLabel(agent: Pick<AgentRow, 'agent_id' | 'name'> | undefined, agentId: string): string {
  return agent ? `${agent.name} (${agent.agent_id})` : agentId;
}

/** A number as the other party reads it in a receipt: +2547******78. */
export function maskedNumber(msisdn: string): string {
  return `+${maskMsisdn(msisdn)}`;
}

/** A cash-in as a channel asks for it: DEP by SMS, or the USSD agent menu's "Deposit to a wallet". */
export interface CashIn {
  readonly payeeMsisdn: string;
  readonly amountMinor: bigint;
  readonly language: Language;
  readonly channel: 'sms' | 'ussd';
  readonly shortCode: string;
  /** The channel's idempotency key (a USSD hop), or null. */
  readonly requestId: string | null;
  /** The agent's float as billing said just before (USSD), or null: billing's reserve decides. */
  readonly balanceBeforeMinor?: bigint | null;
}

/**
 * A cash-in from `subscriber`'s line (under its row lock), by SMS or USSD: opens it, or says why not;
 * nothing is reserved when refused.
 */
export async function openCashIn(
  e: PaymentEngine, client: pg.PoolClient, subscriber: SubscriberRow, operator: OperatorConfig, cashIn: CashIn,
): Promise<Opened> {
  const language = cashIn.language;
  const refused = (text: string) => ({ ok: false as const, text });
  const agent = await agentByMsisdn(client, subscriber.msisdn);
  if (!agent || agent.operator_id !== operator.id) return refused(refusalText('not_an_agent', language));
  if (agent.state !== 'active') return refused(refusalText('agent_suspended', language));
  if (!subscriber.pin_hash) {
    return refused(refusalText('agent_no_pin', language, { ussd: operator.ussd?.serviceCodes[0] ?? 'the USSD code' }));
  }
  if (subscriber.pin_locked) return refused(refusalText('pin_locked', language));
  const payee = cashIn.payeeMsisdn;
  const route = routeTransfer(e.config.operators, operator, subscriber.msisdn, payee);
  if (!route.ok) return refused(transferRefusalText(route, payee, operator, language));
  // The float is the operator's money: it pays only that operator's subscribers.
  if (route.payeeOperator.id !== operator.id) {
    return refused(refusalText('cash_in_other_operator', language, { payee: `+${payee}`, operator: operator.name }));
  }
  const tier = tierOf(e.config, (await store.readSubscriber(client, payee))?.kyc_tier);
  if (cashIn.amountMinor > tier.perTransactionMaxMinor) {
    return refused(limitReply(LimitKind.PER_TRANSACTION, tier.perTransactionMaxMinor, operator.currency, language));
  }
  const capMinor = tier.walletBalanceMaxMinor ?? null;
  // Over the cap on its own: refused now. Whether the balance plus this fits, billing decides at capture, under the wallet's lock.
  if (capMinor !== null && cashIn.amountMinor > capMinor) {
    return refused(refusalText('cash_in_over_cap', language,
      { payee: `+${payee}`, cap: formatAmount(capMinor, operator.currency, language) }));
  }
  // A float known to be short (USSD asked billing first): said now, on the screen, rather than by SMS after a failed reserve.
  const floatMinor = cashIn.balanceBeforeMinor ?? null;
  if (floatMinor !== null && cashIn.amountMinor > floatMinor) {
    return refused(cashInFailedReply(FailureReason.INSUFFICIENT_FUNDS, cashIn.amountMinor, operator.currency, `+${payee}`, language));
  }
  return e.open(client, subscriber, operator, {
    payee: { kind: 'subscriber', id: payee }, amountMinor: cashIn.amountMinor, reference: '', language,
    channel: cashIn.channel, shortCode: cashIn.shortCode, requestId: cashIn.requestId,
    funding: 'agent-float', agentId: agent.agent_id, payeeWalletMaxMinor: capMinor,
  });
}

/**
 * A WITHDRAW by `payerMsisdn` (engine.open calls it, before anything is reserved): the agent must
 * be active and of the payer's operator; the split puts the fee on top; the wallet pays, never the carrier.
 */
export async function cashOut(
  e: PaymentEngine, client: pg.ClientBase, operator: OperatorConfig, payerMsisdn: string, spec: PaymentSpec,
): Promise<{ ok: true; split: PaymentSplit; spec: PaymentSpec } | { ok: false; text: string }> {
  const agentId = spec.payee.id;
  const agent = await readAgent(client, agentId);
  // Another operator's agent is refused like an unknown one: the cash is that operator's business.
  if (!agent || agent.operator_id !== operator.id || agent.msisdn === payerMsisdn) {
    return { ok: false, text: refusalText('agent_unknown', spec.language, { agent: agentId }) };
  }
  if (agent.state !== 'active') {
    return { ok: false, text: refusalText('agent_not_trading', spec.language, { agent: agentLabel(agent, agentId) }) };
  }
  const feeScheduleId = operator.cashOutFeeScheduleId;
  const schedule = feeScheduleId ? e.config.feeSchedules.find((f) => f.id === feeScheduleId) ?? null : null;
  const split = splitCashOut(spec.amountMinor, schedule, operator.revenueShareBps);
  // A wallet known to be short (USSD asked billing first): said now, on the screen; billing's reserve still decides otherwise.
  const walletMinor = spec.balanceBeforeMinor ?? null;
  if (walletMinor !== null && split.amountMinor > walletMinor) {
    const money = (minor: bigint) => formatAmount(minor, operator.currency, spec.language);
    return { ok: false, text: refusalText('cash_out_wallet_short', spec.language, {
      wallet: money(walletMinor), total: money(split.amountMinor), amount: money(split.payeeMinor),
      fee: money(split.amountMinor - split.payeeMinor),
    }) };
  }
  return { ok: true, split, spec: { ...spec, funding: 'wallet' } };
}

/**
 * Whether a right answer must still be refused: the agent (the payer of a cash-in, the payee of a
 * cash-out) was suspended while the payment waited. Checked at consent, so nothing moves after a suspension.
 */
export async function agentSuspendedSince(client: pg.ClientBase, payment: PaymentRow): Promise<boolean> {
  if (!isCashPayment(payment)) return false;
  const agent = await readAgent(client, payment.agent_id ?? payment.payee_id);
  return agent?.state !== 'active';
}

/** The challenge SMS of a cash payment, or null for any other. */
export async function cashChallengeText(
  e: PaymentEngine, client: pg.ClientBase, payment: PaymentRow, code: string | null, minutes: string,
): Promise<string | SecretText | null> {
  if (!isCashPayment(payment)) return null;
  const lang = payment.language;
  const money = (minor: bigint) => formatAmount(minor, payment.currency, lang);
  if (payment.agent_id !== null) {
    return reply('challengeCashIn', lang, { amount: money(payment.amount_minor), payee: `+${payment.payee_id}`, minutes });
  }
  const agent = agentLabel(await readAgent(client, payment.payee_id), payment.payee_id);
  const args = {
    amount: money(payment.payee_minor), agent, fee: money(payment.amount_minor - payment.payee_minor),
    total: money(payment.amount_minor), minutes,
  };
  return code === null ? reply('challengeCashOutPin', lang, args)
    : markSecrets((secret) => reply('challengeCashOutCode', lang, { ...args, code: secret(code) }));
}

/** What the payer of a failed cash-in (the agent) reads; null: the usual failure text. */
export function cashFailedText(payment: PaymentRow, reason: FailureReasonValue): string | null {
  if (payment.agent_id === null) return null;
  return cashInFailedReply(reason, payment.amount_minor, payment.currency, `+${payment.payee_id}`, payment.language);
}

/** The receipts of a completed cash payment: both sides, each naming the other (a subscriber masked). */
export async function cashReceipts(e: PaymentEngine, client: pg.ClientBase, payment: PaymentRow, paymentRef: string): Promise<void> {
  const id = payment.payment_id;
  const lang = payment.language;
  const money = (minor: bigint, language = lang) => formatAmount(minor, payment.currency, language);
  const languageOf = async (msisdn: string) =>
    (await store.readLanguage(client, msisdn)) ?? e.operators.get(payment.operator_id)?.defaultLanguage ?? 'en';
  if (payment.agent_id !== null) {
    const agent = agentLabel(await readAgent(client, payment.agent_id), payment.agent_id);
    await e.sms(client, `${id}:receipt-payer`, id, payerOf(payment), reply('receiptCashInAgent', lang,
      { amount: money(payment.payee_minor), payee: maskedNumber(payment.payee_id), paymentRef }), SMS_RECEIPT);
    const payee = payeeReceiptRoute(payment, e.operators);
    const payeeLang = await languageOf(payment.payee_id);
    return e.sms(client, `${id}:receipt-payee`, id, payee.to,
      reply('receiptCashInPayee', payeeLang, { amount: money(payment.payee_minor, payeeLang), agent, paymentRef }), SMS_RECEIPT);
  }
  const agentRow = await readAgent(client, payment.payee_id);
  await e.sms(client, `${id}:receipt-payer`, id, payerOf(payment), reply('receiptCashOutPayer', lang, {
    amount: money(payment.payee_minor), agent: agentLabel(agentRow, payment.payee_id),
    fee: money(payment.amount_minor - payment.payee_minor), paymentRef,
  }), SMS_RECEIPT);
  if (!agentRow) return; // registered when the payment opened (FK-free payee id): only gone if removed by hand
  const agentLang = await languageOf(agentRow.msisdn);
  const to = { operatorId: agentRow.operator_id, msisdn: agentRow.msisdn, shortCode: payment.short_code };
  await e.sms(client, `${id}:receipt-agent`, id, to, reply('receiptCashOutAgent', agentLang,
    { amount: money(payment.payee_minor, agentLang), payer: maskedNumber(payment.payer_msisdn), paymentRef }), SMS_RECEIPT);
}
