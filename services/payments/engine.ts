// The payment state machine's shell: opens payments, feeds inputs to the pure
// transition() (state.ts), and executes the resulting actions in the same
// transaction as the state change, through the outbox; the lifecycle
// notifications (PaymentRequested...PaymentFailed) go out on core NATS once
// that transaction commits. Channels (SMS, USSD, merchant API, mandates) call
// into it; it knows none of their commands.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { NatsConnection } from '@nats-io/transport-node';
import { dialpay, fundingFromProto, fundingToProto, moneyToProto, type SecretText } from '../../proto/index.js';
import type { Config, MerchantConfig, OperatorConfig } from '../../runtime/config/index.js';
import type { Logger } from '../../runtime/log.js';
import { maskMsisdn } from '../../runtime/log.js';
import {
  Events, Notifications, newEnvelope, prepareNotification, publishNotification, type EventDef, type EventMessage,
} from '../../runtime/nats/index.js';
import { emitEvent, onAfterCommit, withTransaction } from '../../runtime/pg/index.js';
import { splitMerchantPayment, splitTransfer, type PaymentSplit } from './fees.js';
import { checkLimits, tierOf, type LimitDecision, type SpendingSoFar } from './limits.js';
import type { PaymentsMetrics } from './metrics.js';
import { PaymentState, transition, type PaymentAction, type PaymentInput, type FailureReasonValue } from './state.js';
import { limitReply, refusalText } from './refusals.js';
import { merchantPayment } from './merchant-view.js';
import { prepareChallenge } from './challenge.js';
import { airtimeCapture, airtimePayeeName, airtimeRefusal } from './airtime.js';
import { sweepPayments } from './sweep.js';
import { routeTransfer, transferRefusalText } from './transfers.js';
import * as store from './store.js';
import { smsOutboundBody, type SmsOptions } from './sms-options.js';
import { cashOut } from './cash.js';
import { runAction } from './engine-actions.js';
import { blockedPayerRefusal } from './blocks.js';
import { holdAtOpen, ruleName } from './holds.js';
import { screenPayment } from './risk.js';
import { simSwapMaxAgeHours } from './sim-swap.js';
import type { Destination, Funding, PaymentRow, PaymentSpec, SubscriberRow } from './rows.js';
import { OUTBOX } from './outbox.js';

export { OUTBOX };
export const { schema: SCHEMA, producer: PRODUCER } = OUTBOX;
const { DebitOutcome, Channel } = dialpay.v1;

/** `held`: a risk rule held the payment (holds.ts): `text` is what the payer was sent. */
export type Opened = { ok: true; paymentId: string; split: PaymentSplit; payeeName: string } | { ok: false; text: string; held?: boolean };

export interface EngineOptions { pool: pg.Pool; nc: NatsConnection; config: Config; log: Logger; metrics?: PaymentsMetrics }

export class PaymentEngine {
  readonly pool: pg.Pool;
  readonly nc: NatsConnection;
  readonly config: Config;
  readonly log: Logger;
  readonly metrics: PaymentsMetrics | null;
  readonly operators: ReadonlyMap<string, OperatorConfig>;
  readonly merchants: ReadonlyMap<string, MerchantConfig>;

  constructor(options: EngineOptions) {
    this.pool = options.pool;
    this.nc = options.nc;
    this.metrics = options.metrics ?? null;
    this.config = options.config;
    this.log = options.log;
    this.operators = new Map(options.config.operators.map((o) => [o.id, o]));
    this.merchants = new Map(options.config.merchants.map((m) => [m.id, m]));
  }

  async onReserveResult(result: dialpay.v1.IDebitReserveResult): Promise<void> {
    // Billing's risk check (e.g. sim-swap) declined to reserve: held for customer care (holds.ts).
    if (result.outcome === DebitOutcome.DEBIT_OUTCOME_RISK_HOLD) {
      return this.input(result.paymentId ?? '', { kind: 'risk-hold', rule: ruleName(result.detail ?? '') });
    }
    const ok = result.outcome === DebitOutcome.DEBIT_OUTCOME_OK;
    const insufficientFunds = result.outcome === DebitOutcome.DEBIT_OUTCOME_INSUFFICIENT_FUNDS;
    await this.input(result.paymentId ?? '', { kind: 'reserve-result', ok, insufficientFunds }, fundingFromProto(result.funding));
  }

  async onCaptureResult(result: dialpay.v1.IDebitCaptureResult): Promise<void> {
    const topUpRefunded = result.topUp === dialpay.v1.TopUpOutcome.TOP_UP_OUTCOME_REFUNDED_TO_WALLET; // airtime.ts
    // A cash-in over the payee's cap (cash.ts).
    const walletBalanceMax = result.outcome === DebitOutcome.DEBIT_OUTCOME_REJECTED && result.detail === 'wallet-balance-max';
    await this.input(result.paymentId ?? '', {
      kind: 'capture-result', ok: result.outcome === DebitOutcome.DEBIT_OUTCOME_OK,
      ...(topUpRefunded ? { topUpRefunded } : {}), ...(walletBalanceMax ? { walletBalanceMax } : {}),
    });
  }

  /** Billing voided the debit of a failed payment (or found nothing to void): stop asking. */
  async onVoidResult(result: dialpay.v1.IDebitVoidResult): Promise<void> {
    const paymentId = result.paymentId ?? '';
    if (result.outcome === DebitOutcome.DEBIT_OUTCOME_INVALID_STATE) {
      // Captured, yet the payment failed: money moved that the payer was told did not. A person must look.
      this.log.error({ paymentId, detail: result.detail }, 'void refused for a failed payment: reconcile by hand');
    }
    if (result.outcome === DebitOutcome.DEBIT_OUTCOME_OK || result.outcome === DebitOutcome.DEBIT_OUTCOME_INVALID_STATE) {
      // In a transaction, so a batch of results commits it with the others (batch.ts).
      await withTransaction(this.pool, 'READ COMMITTED', (client) => store.confirmVoid(client, paymentId));
    }
  }

  /** The clock's part (sweep.ts): expiries, unanswered reserves, captures and voids asked again. */
  sweep(): Promise<number> {
    return sweepPayments(this);
  }

  /** An input from billing; `funding`: the source a reserve drew on (the challenge says which). */
  async input(paymentId: string, input: PaymentInput, funding: Funding | null = null): Promise<void> {
    await withTransaction(this.pool, 'READ COMMITTED', async (client) => {
      let payment = await store.lockPayment(client, paymentId);
      if (!payment) {
        this.log.warn({ paymentId, input: input.kind }, 'result for a payment we do not have');
        return;
      }
      // Kept with the state change the result causes (step), and read by the challenge it sends.
      if (funding) payment = { ...payment, funding };
      const effective = input.kind === 'reserve-result' && payment.mandate_id ? { ...input, preauthorized: true } : input;
      await this.step(client, payment, effective);
    });
  }

  /**
   * The rules every channel shares: a payee we know, not oneself, fees that leave something,
   * and the limits. Then the payment row and the reserve request, in this transaction, and
   * PaymentRequested once it commits. The subscriber row is locked by the caller.
   */
  async open(client: pg.PoolClient, subscriber: SubscriberRow, operator: OperatorConfig, spec: PaymentSpec): Promise<Opened> {
    const language = spec.language;
    const blocked = blockedPayerRefusal(subscriber, language); // before anything else: a blocked line pays nobody (blocks.ts)
    if (blocked) return { ok: false, text: blocked };
    let split: PaymentSplit | null;
    if (spec.payee.kind === 'merchant') {
      const merchant = this.merchants.get(spec.payee.id);
      if (!merchant || !merchant.operatorIds.includes(operator.id)) {
        return { ok: false, text: refusalText('payee_unknown', language, { payee: spec.payee.id }) };
      }
      const schedule = this.config.feeSchedules.find((f) => f.id === merchant.feeScheduleId);
      if (!schedule) throw new Error(`merchant ${merchant.id} has no fee schedule`); // config validation forbids this
      split = splitMerchantPayment(spec.amountMinor, schedule, operator.revenueShareBps);
    } else if (spec.payee.kind === 'airtime') {
      const refusal = airtimeRefusal(this, operator, spec.payee.id, language); // oneself or another line
      if (refusal) return { ok: false, text: refusal };
      split = splitTransfer(spec.amountMinor);
    } else if (spec.payee.kind === 'agent') {
      // cash.ts: an active agent of this operator, the fee on top, the wallet only.
      const cash = await cashOut(this, client, operator, subscriber.msisdn, spec);
      if (!cash.ok) return cash;
      ({ split, spec } = cash);
    } else {
      // The payee's operator from the number's range: refused here, before any reserve (transfers.ts).
      const route = routeTransfer(this.config.operators, operator, subscriber.msisdn, spec.payee.id);
      if (!route.ok) return { ok: false, text: transferRefusalText(route, spec.payee.id, operator, language) };
      spec = { ...spec, payeeOperatorId: route.payeeOperator.id };
      split = splitTransfer(spec.amountMinor);
    }
    if (!split) return { ok: false, text: refusalText('amount_too_small', language) };
    // A cash-in is the agent's float, not its own spending (cash.ts checked the payee's limits); a cash-out's fee counts.
    const decision = spec.agentId ? { allowed: true as const }
      : this.checkPayerLimits(subscriber, split.amountMinor, await store.spentSoFar(client, subscriber.msisdn));
    if (!decision.allowed) {
      return { ok: false, text: limitReply(decision.limit, decision.remainingMinor, operator.currency, language) };
    }

    // Velocity and risk rules beyond the limits (risk.ts): a rule that fires holds it for customer care.
    const heldBy = await screenPayment(this, client, subscriber.msisdn, spec, split.amountMinor, operator.currency);
    const paymentId = randomUUID();
    await store.insertPayment(client, { paymentId, operatorId: operator.id, payerMsisdn: subscriber.msisdn, currency: operator.currency,
      spec, split, held: heldBy !== null });
    const money = moneyToProto({ amountMinor: split.amountMinor, currency: operator.currency });
    this.notify(client, Notifications.paymentRequested, `${paymentId}:requested`, paymentId, {
      paymentId, channel: { sms: Channel.CHANNEL_SMS, ussd: Channel.CHANNEL_USSD, api: Channel.CHANNEL_MERCHANT_API }[spec.channel],
      operatorId: operator.id, payerMsisdn: subscriber.msisdn,
      ...(spec.payee.kind === 'merchant' ? { merchantId: spec.payee.id }
        : spec.payee.kind === 'agent' ? {} : { payeeMsisdn: spec.payee.id }),
      amount: money, reference: spec.reference,
    });
    if (heldBy) return holdAtOpen(this, client, paymentId, heldBy);
    await this.emit(client, Events.debitReserveRequested, `${paymentId}:reserve`, paymentId, {
      debitId: paymentId, paymentId, operatorId: operator.id, msisdn: subscriber.msisdn, amount: money,
      description: `dialpay ${spec.payee.id}`.slice(0, 60), funding: fundingToProto(spec.funding), agentId: spec.agentId ?? '',
      simSwapMaxAgeHours: simSwapMaxAgeHours(this.metrics?.simSwap, client, operator, spec, split.amountMinor),
    });
    this.log.info({ paymentId, payer: maskMsisdn(subscriber.msisdn), payeeKind: spec.payee.kind, channel: spec.channel },
      'payment requested');
    const payeeName = this.payeeName({ payee_kind: spec.payee.kind, payee_id: spec.payee.id, language });
    return { ok: true, paymentId, split, payeeName };
  }

  checkPayerLimits(subscriber: SubscriberRow, amountMinor: bigint, spent: SpendingSoFar): LimitDecision {
    const limits = this.config.limits;
    const tier = tierOf(this.config, subscriber.kyc_tier);
    return checkLimits(amountMinor, tier, spent, limits.paymentsPerMinuteMax);
  }

  /** Applies one input: the pure transition, then its state and actions in this transaction. */
  async step(client: pg.PoolClient, payment: PaymentRow, input: PaymentInput): Promise<void> {
    const next = transition({ state: payment.state, challengeAttempts: payment.challenge_attempts }, input);
    if (next.state === payment.state && next.actions.length === 0) return;
    const failure = next.actions
      .find((a): a is Extract<PaymentAction, { kind: 'fail' }> => a.kind === 'fail')?.reason ?? null;
    // What the step's actions write on the row goes in the state's one UPDATE: decided first.
    const challenge = next.actions.some((a) => a.kind === 'challenge') ? await prepareChallenge(this, client, payment) : null;
    const authorizationTtlMs = next.actions.some((a) => a.kind === 'authorize') ? this.config.limits.authorizationTtlMs : null;
    await store.setState(client, payment.payment_id, {
      from: payment.state, state: next.state, challengeAttempts: next.challengeAttempts, failure,
      consented: input.kind === 'answer' && input.correct, funding: payment.funding, challenge, authorizationTtlMs,
    });
    for (const action of next.actions) await runAction(this, client, payment, action, next.challengeAttempts, challenge);
    if (next.state !== payment.state && (next.state === PaymentState.COMPLETED || next.state === PaymentState.FAILED)) {
      // updated_at was set when the confirmation moved it to capturing; a merchant's capture or a mandate
      // charge had no payer confirmation.
      const payerConfirmed = payment.state === PaymentState.CAPTURING && payment.capture_mode !== 'manual' && !payment.mandate_id;
      this.metrics?.ended(client, {
        channel: payment.channel, outcome: next.state, reason: failure,
        confirmedAt: next.state === PaymentState.COMPLETED && payerConfirmed ? payment.updated_at : null,
      });
    }
    this.log.info({ paymentId: payment.payment_id, from: payment.state, to: next.state, input: input.kind },
      'payment transition');
  }

  /** A payment to a merchant ended: the webhook event, in the transaction that ended it. */
  tellMerchant(
    client: pg.ClientBase, payment: PaymentRow, state: 'completed' | 'failed', reason: FailureReasonValue | null,
  ): Promise<void> {
    if (payment.payee_kind !== 'merchant') return Promise.resolve();
    const id = payment.payment_id;
    return this.emit(client, Events.merchantEvent, `${id}:merchant:${state}`, id, {
      merchantId: payment.payee_id, type: `payment.${state}`,
      payment: merchantPayment({ ...payment, state, updated_at: new Date(), failure_reason: reason ?? payment.failure_reason }),
    });
  }

  requestCapture(client: pg.ClientBase, payment: PaymentRow, eventId: string): Promise<void> {
    const money = (amountMinor: bigint) => moneyToProto({ amountMinor, currency: payment.currency });
    return this.emit(client, Events.debitCaptureRequested, eventId, payment.payment_id, {
      debitId: payment.payment_id, paymentId: payment.payment_id, amount: money(payment.amount_minor),
      ...(payment.payee_kind === 'merchant' ? { merchantId: payment.payee_id }
        : payment.payee_kind === 'airtime' ? airtimeCapture(this, payment)
          : payment.payee_kind === 'agent' ? { payeeAgentId: payment.payee_id }
            : { payeeMsisdn: payment.payee_id, payeeOperatorId: payment.payee_operator_id ?? '' }),
      ...(payment.payee_wallet_max_minor ? { payeeWalletMax: money(payment.payee_wallet_max_minor) } : {}), // a cash-in's cap (cash.ts)
      payeeAmount: money(payment.payee_minor), fee: money(payment.fee_minor),
      operatorShare: money(payment.operator_share_minor),
    });
  }

  payeeName(payment: Pick<PaymentRow, 'payee_kind' | 'payee_id'> & { language?: PaymentRow['language'] }): string {
    if (payment.payee_kind === 'airtime') return airtimePayeeName(payment.payee_id, payment.language);
    if (payment.payee_kind === 'agent') return `agent ${payment.payee_id}`;
    if (payment.payee_kind === 'merchant') {
      const merchant = this.merchants.get(payment.payee_id);
      return merchant ? `${merchant.name} (${merchant.id})` : payment.payee_id;
    }
    return `+${payment.payee_id}`;
  }

  /** An SMS to a subscriber, through the outbox, with its kind and useful life (sms-options.ts). */
  sms(
    client: pg.ClientBase, eventId: string, paymentId: string, to: Destination, text: string | SecretText, options: SmsOptions,
  ): Promise<void> {
    return this.emit(client, Events.smsOutbound, eventId, paymentId, smsOutboundBody(eventId, to, text, options));
  }

  /** A durable event, through the outbox: committed with this transaction, relayed to JetStream. */
  emit<M extends EventMessage>(
    client: pg.ClientBase, def: EventDef<M>, eventId: string, paymentId: string, body: Omit<M, 'envelope'>,
  ): Promise<void> {
    return emitEvent(client, OUTBOX, def, envelopeIds(eventId, paymentId), body);
  }

  /**
   * A notification (events.ts, Notifications): published on core NATS once this transaction
   * commits, never for one that rolls back; at most once, stored nowhere. Encoded now, so it says
   * when the step happened and a bad one fails the step; publishing after the commit never throws.
   */
  notify<M extends EventMessage>(
    client: pg.ClientBase, def: EventDef<M>, eventId: string, paymentId: string, body: Omit<M, 'envelope'>,
  ): void {
    const envelope = newEnvelope({ producer: PRODUCER, ...envelopeIds(eventId, paymentId) });
    const prepared = prepareNotification(def, { ...body, envelope } as M);
    onAfterCommit(client, () => {
      if (publishNotification(this.nc, prepared)) return;
      this.log.debug({ paymentId, subject: def.subject }, 'notification lost: NATS connection closed');
    });
  }
}

/** Payments' envelope: the event id derived from the step, so a re-emit is a duplicate. */
const envelopeIds = (eventId: string, paymentId: string) => ({ eventId, paymentId, correlationId: paymentId || eventId });
