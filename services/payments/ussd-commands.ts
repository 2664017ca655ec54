// The USSD channel: what the menu asks over request/reply (the subscriber's
// profile, setting the PIN, and starting, confirming or cancelling a payment).
// One transaction per command, with the subscriber's row locked, so a
// subscriber's sessions and SMS are handled one at a time.
import type pg from 'pg';
import { dialpay, fundingToProto, moneyFromProto, moneyToProto } from '../../proto/index.js';
import type { OperatorConfig } from '../../runtime/config/index.js';
import { withTransaction } from '../../runtime/pg/index.js';
import type { Language } from './sms-grammar.js';
import { FailureReason, PaymentState, type FailureReasonValue } from './state.js';
import { failedReply, reply } from './replies.js';
import { checkPin, setPin } from './pin.js';
import * as store from './store.js';
import type { Funding, Payee, PaymentRow, SubscriberRow } from './rows.js';
import { promisedFunding } from './funding.js';
import type { PaymentEngine } from './engine.js';
import { isE164 } from '../../runtime/msisdn.js';

const Outcome = dialpay.v1.CommandOutcome;

export async function onSubscriberCommand(e: PaymentEngine, request: dialpay.v1.ISubscriberCommandRequest): Promise<dialpay.v1.ISubscriberCommandReply> {
  const operator = e.operators.get(request.operatorId ?? '');
  const msisdn = request.msisdn ?? '';
  if (!operator || !isE164(msisdn)) return { outcome: Outcome.COMMAND_OUTCOME_NOT_FOUND };
  if (request.profile) {
    // Every dial asks this: a plain read, no lock and no write (so no commit to wait for on disk).
    const known = await store.readProfile(e.pool, msisdn);
    return { outcome: Outcome.COMMAND_OUTCOME_OK, hasPin: known?.has_pin ?? false, pinLocked: known?.pin_locked ?? false, language: known?.language ?? operator.defaultLanguage };
  }
  // Which source the confirmation screen may promise: asked of billing before the transaction, so
  // its wait holds neither the subscriber's row lock nor a pooled connection (as BAL does).
  const funding = request.startPayment ? await promisedFunding(e, operator, msisdn, amountOf(request.startPayment)) : null;
  return withTransaction(e.pool, 'READ COMMITTED', async (client) => {
    const subscriber = await store.lockSubscriber(client, msisdn, operator.defaultLanguage);
    if (request.setLanguage) {
      const next = request.setLanguage.language === 'fr' ? 'fr' : 'en';
      await store.setLanguage(client, msisdn, next);
      return { outcome: Outcome.COMMAND_OUTCOME_OK, language: next };
    }
    if (request.setPin) return setPin(e, client, subscriber, request.setPin);
    if (request.releaseSession) return releaseUssdSession(e, client, msisdn, request.releaseSession.sessionId ?? '');
    if (request.startPayment) return startUssd(e, client, subscriber, operator, request.startPayment, funding);
    const paymentId = request.confirmPayment?.paymentId ?? request.cancelPayment?.paymentId;
    if (!paymentId) return { outcome: Outcome.COMMAND_OUTCOME_NOT_FOUND };
    const payment = await store.lockUssdPayment(client, paymentId, msisdn);
    if (!payment) return { outcome: Outcome.COMMAND_OUTCOME_NOT_FOUND };
    return request.confirmPayment ? confirmUssd(e, client, payment) : cancelUssd(e, client, payment);
  });
}

/** The PIN first (it was asked last on the menu), then the same rules as SMS, then the reserve. */
async function startUssd(e: PaymentEngine, client: pg.PoolClient, subscriber: SubscriberRow, operator: OperatorConfig, command: dialpay.v1.IStartPayment, funding: Funding | null): Promise<dialpay.v1.ISubscriberCommandReply> {
  const language: Language = command.language === 'fr' ? 'fr' : command.language === 'en' ? 'en' : subscriber.language;
  const requestId = command.requestId ?? '';
  if (requestId) {
    // The same hop again (an operator retry): the payment it started, not a second one.
    const again = await store.paymentByRequest(client, requestId, subscriber.msisdn);
    if (again) return quote(again.payment_id, again.amount_minor, again.fee_minor, again.currency, e.payeeName(again), again.funding);
  }
  const pin = await checkPin(e, client, subscriber, command.pin ?? '');
  if (pin.kind === 'locked') return { outcome: Outcome.COMMAND_OUTCOME_PIN_LOCKED, text: reply('pinLocked', language) };
  if (pin.kind === 'wrong') return { outcome: Outcome.COMMAND_OUTCOME_WRONG_PIN, attemptsLeft: pin.attemptsLeft };
  let amount: { amountMinor: bigint; currency: string };
  try {
    amount = moneyFromProto(command.amount);
  } catch {
    return { outcome: Outcome.COMMAND_OUTCOME_REFUSED, text: reply('feesTooHigh', language) };
  }
  if (amount.currency !== operator.currency || amount.amountMinor <= 0n) return { outcome: Outcome.COMMAND_OUTCOME_REFUSED, text: reply('feesTooHigh', language) };
  const { PayeeKind } = dialpay.v1;
  const kind = command.payeeKind === PayeeKind.PAYEE_KIND_SUBSCRIBER ? 'subscriber' : command.payeeKind === PayeeKind.PAYEE_KIND_AIRTIME ? 'airtime' : 'merchant';
  const payee: Payee = { kind, id: command.payeeId ?? '' };
  const opened = await e.open(client, subscriber, operator, {
    payee, amountMinor: amount.amountMinor, reference: (command.reference ?? '').slice(0, 40), language, channel: 'ussd',
    shortCode: operator.shortCodes[0] as string, requestId: requestId || null, funding,
  });
  if (!opened.ok) return { outcome: Outcome.COMMAND_OUTCOME_REFUSED, text: opened.text };
  return quote(opened.paymentId, opened.split.amountMinor, opened.split.feeMinor, operator.currency, opened.payeeName, funding);
}

/** The amount a StartPayment asks for; zero when it is not valid (startUssd refuses it). */
function amountOf(command: dialpay.v1.IStartPayment): bigint {
  try {
    return moneyFromProto(command.amount).amountMinor;
  } catch {
    return 0n;
  }
}

function quote(paymentId: string, amountMinor: bigint, feeMinor: bigint, currency: string, payeeName: string, funding: Funding | null): dialpay.v1.ISubscriberCommandReply {
  return {
    outcome: Outcome.COMMAND_OUTCOME_OK, paymentId, payeeName, funding: fundingToProto(funding),
    amount: moneyToProto({ amountMinor: BigInt(amountMinor), currency }), fee: moneyToProto({ amountMinor: BigInt(feeMinor), currency }),
  };
}

/** The confirmation screen's "1": consent. Before the carrier answered the reserve, it is kept for then. */
async function confirmUssd(e: PaymentEngine, client: pg.PoolClient, payment: PaymentRow): Promise<dialpay.v1.ISubscriberCommandReply> {
  switch (payment.state) {
    case PaymentState.RESERVING:
      await store.setConsented(client, payment.payment_id);
      return { outcome: Outcome.COMMAND_OUTCOME_OK, paymentId: payment.payment_id };
    case PaymentState.CHALLENGED:
      if (payment.expires_at && payment.expires_at.getTime() <= Date.now()) return ended(payment, FailureReason.EXPIRED);
      await e.step(client, payment, { kind: 'answer', correct: true, attemptsMax: e.config.limits.pinAttemptsMax });
      return { outcome: Outcome.COMMAND_OUTCOME_OK, paymentId: payment.payment_id };
    case PaymentState.AUTHORIZED:
    case PaymentState.CAPTURING:
    case PaymentState.COMPLETED:
      return { outcome: Outcome.COMMAND_OUTCOME_OK, paymentId: payment.payment_id };
    case PaymentState.FAILED:
      return ended(payment, (payment.failure_reason as FailureReasonValue | null) ?? FailureReason.CARRIER_ERROR);
  }
}

/** The network ended the dialogue: what it started and the subscriber did not confirm is cancelled now, its hold voided. */
async function releaseUssdSession(e: PaymentEngine, client: pg.PoolClient, msisdn: string, sessionId: string): Promise<dialpay.v1.ISubscriberCommandReply> {
  if (sessionId.length === 0 || sessionId.length > 200) return { outcome: Outcome.COMMAND_OUTCOME_NOT_FOUND };
  // The menu's request ids are "<session id>#<screen>": the prefix names this dialogue's payments. Consented ones go on.
  const rows = await store.lockUnconsentedOfSession(client, msisdn, sessionId);
  for (const payment of rows) await e.step(client, payment, { kind: 'stop' });
  return { outcome: Outcome.COMMAND_OUTCOME_OK, cancelled: rows.length };
}

async function cancelUssd(e: PaymentEngine, client: pg.PoolClient, payment: PaymentRow): Promise<dialpay.v1.ISubscriberCommandReply> {
  if (payment.state === PaymentState.RESERVING || payment.state === PaymentState.CHALLENGED) {
    await e.step(client, payment, { kind: 'stop' });
    return { outcome: Outcome.COMMAND_OUTCOME_OK, paymentId: payment.payment_id };
  }
  return payment.state === PaymentState.FAILED ? { outcome: Outcome.COMMAND_OUTCOME_OK, paymentId: payment.payment_id } : { outcome: Outcome.COMMAND_OUTCOME_ENDED, paymentId: payment.payment_id };
}

function ended(payment: PaymentRow, reason: FailureReasonValue): dialpay.v1.ISubscriberCommandReply {
  return { outcome: Outcome.COMMAND_OUTCOME_ENDED, paymentId: payment.payment_id, text: failedReply(reason, payment.amount_minor, payment.currency, payment.language) };
}
