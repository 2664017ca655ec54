// The USSD channel: what the menu asks over request/reply (the subscriber's
// profile, setting the PIN, and starting, confirming or cancelling a payment,
// cash-outs and an agent's cash-ins among them: cash.ts keeps their rules).
// One transaction per command, with the subscriber's row locked, so a
// subscriber's sessions and SMS are handled one at a time.
import type pg from 'pg';
import { dialpay, EnumValueError, fundingToProto, moneyFromProtoOrNull, moneyToProto, requireEnum } from '../../proto/index.js';
import type { OperatorConfig } from '../../runtime/config/index.js';
import { withTransaction } from '../../runtime/pg/index.js';
import { languageOr } from '../../runtime/language.js';
import { FailureReason, PaymentState, type FailureReasonValue } from './state.js';
import { reply } from './replies.js';
import { stopIfPayerBlocked } from './blocks.js';
import { failedReply, refusalText } from './refusals.js';
import { checkPin, setPin } from './pin.js';
import { heldTextOf } from './holds.js';
import * as store from './store.js';
import type { Funding, Payee, PaymentRow, SubscriberRow } from './rows.js';
import { balanceBefore, promisedFunding } from './funding.js';
import type { PaymentEngine } from './engine.js';
import type { PaymentSplit } from './fees.js';
import { agentByMsisdn, readAgent } from './agents.js';
import { agentLabel, agentSuspendedSince, cashFailedText, isCashPayment, openCashIn } from './cash.js';
import { isE164 } from '../../runtime/msisdn.js';

const Outcome = dialpay.v1.CommandOutcome;

export async function onSubscriberCommand(
  e: PaymentEngine, request: dialpay.v1.ISubscriberCommandRequest,
): Promise<dialpay.v1.ISubscriberCommandReply> {
  const operator = e.operators.get(request.operatorId ?? '');
  const msisdn = request.msisdn ?? '';
  if (!operator || !isE164(msisdn)) return { outcome: Outcome.COMMAND_OUTCOME_NOT_FOUND };
  // Before anything is read or locked: a StartPayment must say whom it pays (no PIN attempt spent, nothing reserved).
  const payeeKind = request.startPayment ? payeeKindOf(e, request.startPayment) : null;
  if (request.startPayment && !payeeKind) return { outcome: Outcome.COMMAND_OUTCOME_NOT_FOUND };
  if (request.profile) {
    // Every dial asks this: plain reads, no lock and no write (so no commit to wait for on disk).
    const known = await store.readProfile(e.pool, msisdn);
    // An active agent of this operator dialling sees the agent menu too (deposits, float balance).
    const agent = await agentByMsisdn(e.pool, msisdn);
    const agentId = agent && agent.state === 'active' && agent.operator_id === operator.id ? agent.agent_id : '';
    return {
      outcome: Outcome.COMMAND_OUTCOME_OK, hasPin: known?.has_pin ?? false, pinLocked: known?.pin_locked ?? false,
      language: known?.language ?? operator.defaultLanguage, agentId,
    };
  }
  // Which source the confirmation screen may promise, and for a cash payment what the paying account
  // holds: asked of billing before the transaction, so its wait holds neither the subscriber's row
  // lock nor a pooled connection (as BAL does).
  const before = request.startPayment ? await beforeStart(e, operator, msisdn, request.startPayment) : null;
  return withTransaction(e.pool, 'READ COMMITTED', async (client) => {
    const subscriber = await store.lockSubscriber(client, msisdn, operator.defaultLanguage);
    if (request.setLanguage) {
      const next = languageOr(request.setLanguage.language, 'en');
      await store.setLanguage(client, msisdn, next);
      return { outcome: Outcome.COMMAND_OUTCOME_OK, language: next };
    }
    if (request.setPin) return setPin(e, client, subscriber, request.setPin);
    if (request.releaseSession) return releaseUssdSession(e, client, msisdn, request.releaseSession.sessionId ?? '');
    if (request.startPayment && payeeKind) {
      return startUssd(e, client, subscriber, operator, request.startPayment, payeeKind, before);
    }
    const paymentId = request.confirmPayment?.paymentId ?? request.cancelPayment?.paymentId;
    if (!paymentId) return { outcome: Outcome.COMMAND_OUTCOME_NOT_FOUND };
    const payment = await store.lockUssdPayment(client, paymentId, msisdn);
    if (!payment) return { outcome: Outcome.COMMAND_OUTCOME_NOT_FOUND };
    return request.confirmPayment ? confirmUssd(e, client, subscriber, payment) : cancelUssd(e, client, payment);
  });
}

const PAYEE_KINDS: Readonly<Record<Exclude<dialpay.v1.PayeeKind, 0>, Payee['kind']>> = {
  [dialpay.v1.PayeeKind.PAYEE_KIND_MERCHANT]: 'merchant',
  [dialpay.v1.PayeeKind.PAYEE_KIND_SUBSCRIBER]: 'subscriber',
  [dialpay.v1.PayeeKind.PAYEE_KIND_AIRTIME]: 'airtime',
  [dialpay.v1.PayeeKind.PAYEE_KIND_AGENT]: 'agent',
};

/**
 * A StartPayment's payee kind; null (logged) when it names none or one this build does not know:
 * the menu's bug, never a merchant.
 */
function payeeKindOf(e: PaymentEngine, command: dialpay.v1.IStartPayment): Exclude<dialpay.v1.PayeeKind, 0> | null {
  try {
    return requireEnum(dialpay.v1.PayeeKind, command.payeeKind, 'payeeKind');
  } catch (err) {
    if (!(err instanceof EnumValueError)) throw err;
    e.log.warn({ err }, 'USSD StartPayment refused: its payee kind breaks the contract');
    return null;
  }
}

/** What startUssd learns from billing before its transaction. */
interface BeforeStart {
  /** The source the confirmation screen promises; null: not known. */
  readonly funding: Funding | null;
  /** A cash payment: what the wallet (cash-out) or the agent's float (cash-in) holds; null: not known. */
  readonly balanceMinor: bigint | null;
}

async function beforeStart(
  e: PaymentEngine, operator: OperatorConfig, msisdn: string, command: dialpay.v1.IStartPayment,
): Promise<BeforeStart> {
  if (command.cashIn) {
    // The float pays; its balance is billing's, the agent's id is ours (a line that is no agent is
    // refused in the transaction).
    const agent = await agentByMsisdn(e.pool, msisdn);
    return { funding: 'agent-float', balanceMinor: agent ? await balanceBefore(e, operator, msisdn, agent.agent_id) : null };
  }
  if (command.payeeKind === dialpay.v1.PayeeKind.PAYEE_KIND_AGENT) {
    return { funding: 'wallet', balanceMinor: await balanceBefore(e, operator, msisdn, null) };
  }
  return { funding: await promisedFunding(e, operator, msisdn, amountOf(command)), balanceMinor: null };
}

/** The PIN first (it was asked last on the menu), then the same rules as SMS, then the reserve. */
async function startUssd(
  e: PaymentEngine, client: pg.PoolClient, subscriber: SubscriberRow, operator: OperatorConfig, command: dialpay.v1.IStartPayment,
  payeeKind: Exclude<dialpay.v1.PayeeKind, 0>, before: BeforeStart | null,
): Promise<dialpay.v1.ISubscriberCommandReply> {
  const funding = before?.funding ?? null;
  const language = languageOr(command.language, subscriber.language);
  const requestId = command.requestId ?? '';
  if (requestId) {
    // The same hop again (an operator retry): the payment it started, not a second one.
    const again = await store.paymentByRequest(client, requestId, subscriber.msisdn);
    if (again) return quoteAgain(e, client, again);
  }
  const pin = await checkPin(e, client, subscriber, command.pin ?? '');
  if (pin.kind === 'locked') return { outcome: Outcome.COMMAND_OUTCOME_PIN_LOCKED, text: refusalText('pin_locked', language) };
  if (pin.kind === 'wrong') return { outcome: Outcome.COMMAND_OUTCOME_WRONG_PIN, attemptsLeft: pin.attemptsLeft };
  const amount = moneyFromProtoOrNull(command.amount);
  if (!amount) return { outcome: Outcome.COMMAND_OUTCOME_REFUSED, text: refusalText('amount_too_small', language) };
  if (amount.currency !== operator.currency || amount.amountMinor <= 0n) {
    return { outcome: Outcome.COMMAND_OUTCOME_REFUSED, text: refusalText('amount_too_small', language) };
  }
  const { PayeeKind } = dialpay.v1;
  const shortCode = operator.shortCodes[0] as string;
  const balanceBeforeMinor = before?.balanceMinor ?? null;
  if (command.cashIn) {
    // A deposit from the agent menu: cash.ts's rules, as DEP by SMS; the PIN just checked was the agent's.
    if (payeeKind !== PayeeKind.PAYEE_KIND_SUBSCRIBER) return { outcome: Outcome.COMMAND_OUTCOME_NOT_FOUND };
    const opened = await openCashIn(e, client, subscriber, operator, {
      payeeMsisdn: command.payeeId ?? '', amountMinor: amount.amountMinor, language, channel: 'ussd', shortCode,
      requestId: requestId || null, balanceBeforeMinor,
    });
    if (!opened.ok) return { outcome: Outcome.COMMAND_OUTCOME_REFUSED, text: opened.text };
    return cashQuote(opened.paymentId, splitRow(opened.split), operator.currency, `+${command.payeeId ?? ''}`, 'agent-float');
  }
  const kind = PAYEE_KINDS[payeeKind];
  const payee: Payee = { kind, id: kind === 'agent' ? (command.payeeId ?? '').toUpperCase() : (command.payeeId ?? '') };
  const opened = await e.open(client, subscriber, operator, {
    payee, amountMinor: amount.amountMinor, reference: (command.reference ?? '').slice(0, 40), language, channel: 'ussd',
    shortCode, requestId: requestId || null, funding, balanceBeforeMinor,
  });
  if (!opened.ok) return { outcome: Outcome.COMMAND_OUTCOME_REFUSED, text: opened.text };
  // A cash-out (cash.ts): the cash, the fee on top and what leaves the wallet, at the agent named as in its SMS.
  if (kind === 'agent') {
    const agentName = await cashPayeeName(client, 'agent', payee.id);
    return cashQuote(opened.paymentId, splitRow(opened.split), operator.currency, agentName, 'wallet');
  }
  return quote(opened.paymentId, opened.split.amountMinor, opened.split.feeMinor, operator.currency, opened.payeeName, funding);
}

/** The confirmation screen of a payment this request already started. */
async function quoteAgain(e: PaymentEngine, client: pg.ClientBase, again: PaymentRow): Promise<dialpay.v1.ISubscriberCommandReply> {
  if (isCashPayment(again)) {
    return cashQuote(again.payment_id, again, again.currency, await cashPayeeName(client, again.payee_kind, again.payee_id), again.funding);
  }
  return quote(again.payment_id, again.amount_minor, again.fee_minor, again.currency, e.payeeName(again), again.funding);
}

/** A split as the payment row keeps it. */
function splitRow(split: PaymentSplit): Pick<PaymentRow, 'amount_minor' | 'payee_minor'> {
  return { amount_minor: split.amountMinor, payee_minor: split.payeeMinor };
}

/** An agent as a cash-out's screen names it ("Kiosk Two (AG2001)"); a cash-in's payee number. */
async function cashPayeeName(client: pg.ClientBase, payeeKind: PaymentRow['payee_kind'], payeeId: string): Promise<string> {
  return payeeKind === 'agent' ? agentLabel(await readAgent(client, payeeId), payeeId) : `+${payeeId}`;
}

/**
 * A cash payment's confirmation: amount is the cash (handed over, or deposited), fee everything on
 * top of it (the operator's share included: the payer pays it all), total what leaves the paying account.
 */
function cashQuote(
  paymentId: string, row: Pick<PaymentRow, 'amount_minor' | 'payee_minor'>, currency: string, payeeName: string, funding: Funding | null,
): dialpay.v1.ISubscriberCommandReply {
  const money = (amountMinor: bigint) => moneyToProto({ amountMinor: BigInt(amountMinor), currency });
  const payee = BigInt(row.payee_minor);
  const total = BigInt(row.amount_minor);
  return {
    outcome: Outcome.COMMAND_OUTCOME_OK, paymentId, payeeName, funding: fundingToProto(funding),
    amount: money(payee), fee: money(total - payee), total: money(total),
  };
}

/** The amount a StartPayment asks for; zero when it is not valid (startUssd refuses it). */
function amountOf(command: dialpay.v1.IStartPayment): bigint {
  return moneyFromProtoOrNull(command.amount)?.amountMinor ?? 0n;
}

function quote(
  paymentId: string, amountMinor: bigint, feeMinor: bigint, currency: string, payeeName: string, funding: Funding | null,
): dialpay.v1.ISubscriberCommandReply {
  return {
    outcome: Outcome.COMMAND_OUTCOME_OK, paymentId, payeeName, funding: fundingToProto(funding),
    amount: moneyToProto({ amountMinor: BigInt(amountMinor), currency }), fee: moneyToProto({ amountMinor: BigInt(feeMinor), currency }),
  };
}

/** The confirmation screen's "1": consent. Before the carrier answered the reserve, it is kept for then. */
async function confirmUssd(
  e: PaymentEngine, client: pg.PoolClient, subscriber: SubscriberRow, payment: PaymentRow,
): Promise<dialpay.v1.ISubscriberCommandReply> {
  if (await stopIfPayerBlocked(e, client, subscriber, payment)) {
    const text = refusalText('subscriber_blocked', payment.language);
    return { outcome: Outcome.COMMAND_OUTCOME_ENDED, paymentId: payment.payment_id, text };
  }
  switch (payment.state) {
    case PaymentState.RESERVING:
      // cash.ts: nothing moves once the agent (the payer of a cash-in, the payee of a cash-out) is suspended.
      if (await agentSuspendedSince(client, payment)) return suspendedAgent(e, client, payment);
      await store.setConsented(client, payment.payment_id);
      return { outcome: Outcome.COMMAND_OUTCOME_OK, paymentId: payment.payment_id };
    case PaymentState.CHALLENGED:
      if (payment.expires_at && payment.expires_at.getTime() <= Date.now()) return ended(payment, FailureReason.EXPIRED);
      if (await agentSuspendedSince(client, payment)) return suspendedAgent(e, client, payment);
      await e.step(client, payment, { kind: 'answer', correct: true, attemptsMax: e.config.limits.pinAttemptsMax });
      return { outcome: Outcome.COMMAND_OUTCOME_OK, paymentId: payment.payment_id };
    case PaymentState.HELD: // billing's risk check held it meanwhile (holds.ts): care decides, not this screen
      return { outcome: Outcome.COMMAND_OUTCOME_ENDED, paymentId: payment.payment_id, text: await heldTextOf(e, client, payment) };
    case PaymentState.AUTHORIZED:
    case PaymentState.CAPTURING:
    case PaymentState.COMPLETED:
      return { outcome: Outcome.COMMAND_OUTCOME_OK, paymentId: payment.payment_id };
    case PaymentState.FAILED:
      return ended(payment, (payment.failure_reason as FailureReasonValue | null) ?? FailureReason.CARRIER_ERROR);
  }
}

/** The network ended the dialogue: what it started and the subscriber did not confirm is cancelled now, its hold voided. */
async function releaseUssdSession(
  e: PaymentEngine, client: pg.PoolClient, msisdn: string, sessionId: string,
): Promise<dialpay.v1.ISubscriberCommandReply> {
  if (sessionId.length === 0 || sessionId.length > 200) return { outcome: Outcome.COMMAND_OUTCOME_NOT_FOUND };
  // The menu's request ids are "<session id>#<screen>": the prefix names this dialogue's payments.
  // Consented ones go on.
  const rows = await store.lockUnconsentedOfSession(client, msisdn, sessionId);
  for (const payment of rows) await e.step(client, payment, { kind: 'stop' });
  return { outcome: Outcome.COMMAND_OUTCOME_OK, cancelled: rows.length };
}

async function cancelUssd(e: PaymentEngine, client: pg.PoolClient, payment: PaymentRow): Promise<dialpay.v1.ISubscriberCommandReply> {
  if (payment.state === PaymentState.RESERVING || payment.state === PaymentState.CHALLENGED) {
    await e.step(client, payment, { kind: 'stop' });
    return { outcome: Outcome.COMMAND_OUTCOME_OK, paymentId: payment.payment_id };
  }
  const outcome = payment.state === PaymentState.FAILED ? Outcome.COMMAND_OUTCOME_OK : Outcome.COMMAND_OUTCOME_ENDED;
  return { outcome, paymentId: payment.payment_id };
}

function ended(payment: PaymentRow, reason: FailureReasonValue): dialpay.v1.ISubscriberCommandReply {
  const text = cashFailedText(payment, reason) ?? failedReply(reason, payment.amount_minor, payment.currency, payment.language);
  return { outcome: Outcome.COMMAND_OUTCOME_ENDED, paymentId: payment.payment_id, text };
}

/** The agent was suspended while the confirmation screen waited: cancelled (its hold voided), as an SMS answer would be. */
async function suspendedAgent(
  e: PaymentEngine, client: pg.PoolClient, payment: PaymentRow,
): Promise<dialpay.v1.ISubscriberCommandReply> {
  await e.step(client, payment, { kind: 'stop' });
  return ended(payment, FailureReason.CANCELLED);
}
