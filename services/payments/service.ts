// The payments service shell: turns inbound SMS, debit results and the
// expiry clock into state-machine inputs (state.ts), and executes the
// resulting actions in the same transaction as the state change, through the
// outbox. The payer's subscriber row is locked for the transaction, so one
// MSISDN's commands are handled one at a time and limits cannot be raced.
import { createHash, randomInt, randomUUID } from 'node:crypto';
import type pg from 'pg';
import { bigIntToInt64, dialpay, int64ToBigInt, moneyFromProto, moneyToProto } from '../../proto/index.js';
import type { Config, MerchantConfig, OperatorConfig } from '../../runtime/config/index.js';
import type { Logger } from '../../runtime/log.js';
import { maskMsisdn } from '../../runtime/log.js';
import type { NatsConnection } from '@nats-io/transport-node';
import { Events, Requests, newEnvelope, requestReply, type EventDef, type EventMessage } from '../../runtime/nats/index.js';
import { enqueueEvent, handleOnce, withTransaction } from '../../runtime/pg/index.js';
import { hashSecret, verifySecret } from '../../runtime/secrets.js';
import { formatAmount } from '../../runtime/money.js';
import { parseSmsCommand, type Language, type SmsCommand } from './sms-grammar.js';
import { splitMerchantPayment, splitTransfer, type PaymentSplit } from './fees.js';
import { checkLimits, type LimitDecision, type SpendingSoFar } from './limits.js';
import { isCodeLocked, recordWrongAnswer, type CodeGuessState } from './code-guesses.js';
import { merchantRequestRefusal, merchantRequestTtlMs, MerchantRequestRefusal } from './merchant-requests.js';
import { capUnconsentedHolds, merchantRequestCounts } from './merchant-requests-store.js';
import { answerKind, AnswerKind } from './answers.js';
import type { PaymentsMetrics } from './metrics.js';
import { FailureReason, PaymentState, transition, type PaymentAction, type PaymentInput, type PaymentStateValue, type FailureReasonValue } from './state.js';
import { failedReply, limitReply, reply } from './replies.js';
import { decodeCursor, encodeCursor, merchantMandate, merchantPayment, statesOf, MERCHANT_STATUS } from './merchant-view.js';
import { toE164 } from '../../runtime/msisdn.js';

const SCHEMA = 'payments';
export const PRODUCER = 'payments';
const { DebitOutcome, Channel, ChallengeMethod, SmsPriority } = dialpay.v1;
const Outcome = dialpay.v1.CommandOutcome;
const MerchantError = dialpay.v1.MerchantError;
/** Payments per page of GET /v1/payments. */
const MERCHANT_PAGE_DEFAULT = 50;
const MERCHANT_PAGE_MAX = 200;
/** What a merchant hears when the payer's limits, PIN or payee rules refuse: nothing about the payer's figures. */
const MERCHANT_REFUSAL = 'this payer cannot make this payment now (a limit or the payer\'s account)';
/** Stored Idempotency-Key replies are kept this long, then forgotten. */
const API_REQUESTS_KEEP_MS = 24 * 60 * 60_000;
/** How long BAL waits for billing before saying "try later". */
const BALANCE_TIMEOUT_MS = 2_000;
/** Movements shown in the BAL reply: the last five, as a mini statement. */
const STATEMENT_LINES_SMS = 5;
/** A capture unanswered this long is requested again (billing's capture is idempotent). */
const CAPTURE_RETRY_AFTER_MS = 60_000;
/** A failed payment's void unconfirmed this long is requested again. */
const VOID_RETRY_AFTER_MS = 60_000;
/** Open challenges a confirmation code is matched against. */
const OPEN_CHALLENGES_MAX = 20;
/** Challenges expired per sweep; the rest wait for the next one. */
const EXPIRY_BATCH_MAX = 100;

interface PaymentRow {
  payment_id: string;
  operator_id: string;
  short_code: string;
  payer_msisdn: string;
  payee_kind: 'merchant' | 'subscriber';
  payee_id: string;
  currency: string;
  amount_minor: bigint;
  fee_minor: bigint;
  operator_share_minor: bigint;
  payee_minor: bigint;
  reference: string;
  language: Language;
  state: PaymentStateValue;
  challenge_method: 'code' | 'pin' | 'ussd' | null;
  challenge_code_hash: string | null;
  challenge_attempts: number;
  channel: 'sms' | 'ussd' | 'api';
  consented: boolean;
  expires_at: Date | null;
  failure_reason: string | null;
  description: string;
  confirm_ttl_ms: number | null;
  created_at: Date;
  updated_at: Date;
  capture_mode: 'automatic' | 'manual';
  authorized_minor: bigint | null;
  authorization_expires_at: Date | null;
  mandate_id: string | null;
}

type Payee = { readonly kind: 'merchant' | 'subscriber'; readonly id: string };

interface PaymentSpec {
  readonly payee: Payee;
  readonly amountMinor: bigint;
  readonly reference: string;
  readonly language: Language;
  readonly channel: 'sms' | 'ussd' | 'api';
  readonly shortCode: string;
  /** The channel's idempotency key (a USSD hop), or null. */
  readonly requestId: string | null;
  /** Merchant API only: shown to the merchant, and how long the payer has to confirm. */
  readonly description?: string;
  readonly confirmTtlMs?: number | null;
  /** Merchant API: the amount is the most authorized; the merchant captures what was used. */
  readonly manualCapture?: boolean;
  /** A charge under this active mandate: consent was given in advance, no challenge. */
  readonly mandateId?: string | null;
}

interface SubscriberRow {
  msisdn: string;
  language: Language;
  kyc_tier: number;
  pin_hash: string | null;
  pin_failures: number;
  pin_locked: boolean;
  code_wrong_at: Date[];
  code_locked_until: Date | null;
}

/** A one-time code is only ever compared by hash; it is salted with the payment id. */
export function hashCode(paymentId: string, code: string): string {
  return createHash('sha256').update(`${paymentId}:${code}`).digest('hex');
}

export class PaymentsService {
  readonly #pool: pg.Pool;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #operators: ReadonlyMap<string, OperatorConfig>;
  readonly #merchants: ReadonlyMap<string, MerchantConfig>;

  readonly #nc: NatsConnection;
  readonly #metrics: PaymentsMetrics | null;

  constructor(options: { pool: pg.Pool; nc: NatsConnection; config: Config; log: Logger; metrics?: PaymentsMetrics }) {
    this.#pool = options.pool;
    this.#nc = options.nc;
    this.#metrics = options.metrics ?? null;
    this.#config = options.config;
    this.#log = options.log;
    this.#operators = new Map(options.config.operators.map((o) => [o.id, o]));
    this.#merchants = new Map(options.config.merchants.map((m) => [m.id, m]));
  }

  /** A subscriber's SMS: exactly once per event, whatever the redeliveries. */
  async onInboundSms(message: dialpay.v1.ISmsInbound): Promise<void> {
    const eventId = message.envelope?.eventId as string;
    await handleOnce(this.#pool, SCHEMA, 'payments-sms-inbound', eventId, (client) => this.#command(client, message));
  }

  async onReserveResult(result: dialpay.v1.IDebitReserveResult): Promise<void> {
    const ok = result.outcome === DebitOutcome.DEBIT_OUTCOME_OK;
    await this.#input(result.paymentId ?? '', { kind: 'reserve-result', ok, insufficientFunds: result.outcome === DebitOutcome.DEBIT_OUTCOME_INSUFFICIENT_FUNDS });
  }

  async onCaptureResult(result: dialpay.v1.IDebitCaptureResult): Promise<void> {
    await this.#input(result.paymentId ?? '', { kind: 'capture-result', ok: result.outcome === DebitOutcome.DEBIT_OUTCOME_OK });
  }

  /** Billing voided the debit of a failed payment (or found nothing to void): stop asking. */
  async onVoidResult(result: dialpay.v1.IDebitVoidResult): Promise<void> {
    const paymentId = result.paymentId ?? '';
    if (result.outcome === DebitOutcome.DEBIT_OUTCOME_INVALID_STATE) {
      // Captured, yet the payment failed: money moved that the payer was told did not. A person must look.
      this.#log.error({ paymentId, detail: result.detail }, 'void refused for a failed payment: reconcile by hand');
    }
    if (result.outcome === DebitOutcome.DEBIT_OUTCOME_OK || result.outcome === DebitOutcome.DEBIT_OUTCOME_INVALID_STATE) {
      await this.#pool.query("UPDATE payments.payments SET void_confirmed = true WHERE payment_id = $1 AND state = 'failed'", [paymentId]);
    }
  }

  /**
   * The clock's part: fails challenges past their expiry and reserves the carrier never
   * answered, and asks again for captures left unanswered (a capture is idempotent). Returns
   * how many payments it touched.
   */
  async sweep(): Promise<number> {
    return withTransaction(this.#pool, 'READ COMMITTED', async (client) => {
      const ttlMs = this.#config.limits.challengeTtlMs;
      // Before expiring: a hold an older replica opened for a day is brought down to one challenge.
      const capped = await capUnconsentedHolds(client, ttlMs);
      if (capped > 0) this.#log.info({ capped }, 'merchant requests holding past one challenge shortened');
      // Two indexed queries rather than one OR that would scan the table twice a second.
      const expired = await client.query<PaymentRow>(
        `SELECT * FROM payments.payments WHERE state = 'challenged' AND expires_at < now() ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [EXPIRY_BATCH_MAX],
      );
      const unanswered = await client.query<PaymentRow>(
        `SELECT * FROM payments.payments WHERE state = 'reserving' AND created_at < now() - ($2::bigint * interval '1 millisecond')
         ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [EXPIRY_BATCH_MAX, ttlMs],
      );
      const unused = await client.query<PaymentRow>(
        `SELECT * FROM payments.payments WHERE state = 'authorized' AND authorization_expires_at < now() ORDER BY authorization_expires_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [EXPIRY_BATCH_MAX],
      );
      const rows = [...expired.rows, ...unanswered.rows, ...unused.rows];
      for (const payment of rows) await this.#step(client, payment, { kind: 'expired' });
      const stuck = await client.query<PaymentRow>(
        `SELECT * FROM payments.payments WHERE state = 'capturing' AND updated_at < now() - ($2::bigint * interval '1 millisecond')
         ORDER BY updated_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [EXPIRY_BATCH_MAX, CAPTURE_RETRY_AFTER_MS],
      );
      for (const payment of stuck.rows) {
        await client.query('UPDATE payments.payments SET updated_at = now() WHERE payment_id = $1', [payment.payment_id]);
        // The payer confirmed: the capture must happen. A new event id, so the stream takes it again.
        await this.#requestCapture(client, payment, `${payment.payment_id}:capture:${Date.now()}`);
        this.#log.warn({ paymentId: payment.payment_id }, 'capture unanswered; asked again');
      }
      const unvoided = await client.query<PaymentRow>(
        `SELECT * FROM payments.payments WHERE state = 'failed' AND NOT void_confirmed AND updated_at < now() - ($2::bigint * interval '1 millisecond')
         ORDER BY updated_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [EXPIRY_BATCH_MAX, VOID_RETRY_AFTER_MS],
      );
      for (const payment of unvoided.rows) {
        await client.query('UPDATE payments.payments SET updated_at = now() WHERE payment_id = $1', [payment.payment_id]);
        await this.#emit(client, Events.debitVoidRequested, `${payment.payment_id}:void:${Date.now()}`, payment.payment_id, {
          debitId: payment.payment_id, paymentId: payment.payment_id, reason: 'payment not completed (asked again)',
        });
      }
      // Idempotency-Key replies are for retries, which come within minutes; a day is plenty.
      await client.query(`DELETE FROM payments.api_requests WHERE created_at < now() - ($1::bigint * interval '1 millisecond')`, [API_REQUESTS_KEEP_MS]);
      return rows.length + stuck.rows.length + unvoided.rows.length;
    });
  }

  async #input(paymentId: string, input: PaymentInput): Promise<void> {
    await withTransaction(this.#pool, 'READ COMMITTED', async (client) => {
      const { rows } = await client.query<PaymentRow>('SELECT * FROM payments.payments WHERE payment_id = $1 FOR UPDATE', [paymentId]);
      const payment = rows[0];
      if (!payment) {
        this.#log.warn({ paymentId, input: input.kind }, 'result for a payment we do not have');
        return;
      }
      const effective = input.kind === 'reserve-result' && payment.mandate_id ? { ...input, preauthorized: true } : input;
      await this.#step(client, payment, effective);
    });
  }

  async #command(client: pg.PoolClient, message: dialpay.v1.ISmsInbound): Promise<void> {
    const operator = this.#operators.get(message.operatorId ?? '');
    const msisdn = message.fromMsisdn ?? '';
    if (!operator || !/^\d{7,15}$/.test(msisdn)) {
      this.#log.warn({ operatorId: message.operatorId }, 'inbound SMS from an unknown operator or number; ignored');
      return;
    }
    const subscriber = await lockSubscriber(client, msisdn, operator);
    const command = parseSmsCommand(message.text ?? '', { currency: operator.currency, countryCallingCode: operator.countryCallingCode, defaultLanguage: subscriber.language });
    const to = { operatorId: operator.id, msisdn, shortCode: message.toAddress ?? operator.shortCodes[0] ?? '' };
    const eventId = message.envelope?.eventId as string;
    const say = (text: string) => this.#sms(client, `${eventId}:reply`, '', to, text);
    switch (command.kind) {
      case 'invalid':
      case 'help':
        return say(reply('help', command.language));
      case 'language':
        await client.query('UPDATE payments.subscribers SET language = $2, updated_at = now() WHERE msisdn = $1', [msisdn, command.language]);
        return say(reply('languageSet', command.language));
      case 'balance':
        return say(await this.#balanceText(operator, msisdn, command.language));
      case 'stop': {
        const open = await client.query<PaymentRow>(`SELECT * FROM payments.payments WHERE payer_msisdn = $1 AND state IN ('reserving', 'challenged', 'authorized') FOR UPDATE`, [msisdn]);
        for (const payment of open.rows) await this.#step(client, payment, { kind: 'stop' });
        const revoked = await client.query<MandateRow>(
          `UPDATE payments.mandates SET state = 'revoked', updated_at = now() WHERE payer_msisdn = $1 AND state IN ('pending', 'active') RETURNING *`, [msisdn],
        );
        for (const mandate of revoked.rows) await this.#tellMerchantOfMandate(client, mandate, 'mandate.revoked');
        const text = reply('stopped', command.language);
        return say(revoked.rows.length > 0 ? `${text} ${reply('mandatesRevoked', command.language, { count: String(revoked.rows.length) })}` : text);
      }
      case 'pay':
      case 'send':
        return this.#start(client, subscriber, operator, command, to, eventId);
      case 'confirm':
      case 'pin':
        return this.#answer(client, subscriber, command, to, eventId);
    }
  }

  /** An SMS PAY or SEND: open the payment, or say why not. */
  async #start(
    client: pg.PoolClient,
    subscriber: SubscriberRow,
    operator: OperatorConfig,
    command: Extract<SmsCommand, { kind: 'pay' | 'send' }>,
    to: { operatorId: string; msisdn: string; shortCode: string },
    eventId: string,
  ): Promise<void> {
    const payee: Payee = command.kind === 'pay' ? { kind: 'merchant', id: command.merchantCode } : { kind: 'subscriber', id: command.payeeMsisdn };
    // Above the PIN threshold a locked PIN blocks the payment: never fall back to an SMS code,
    // which the person holding the phone would receive.
    const refusal =
      command.amountMinor > this.#config.limits.pinRequiredAboveMinor && subscriber.pin_locked
        ? failedReply(FailureReason.PIN_LOCKED, command.amountMinor, operator.currency, command.language)
        : null;
    const opened = refusal
      ? { ok: false as const, text: refusal }
      : await this.#open(client, subscriber, operator, {
          payee, amountMinor: command.amountMinor, reference: command.kind === 'pay' ? command.reference : '',
          language: command.language, channel: 'sms', shortCode: to.shortCode, requestId: null,
        });
    if (!opened.ok) await this.#sms(client, `${eventId}:reply`, '', to, opened.text);
  }

  /**
   * The rules every channel shares: a payee we know, not oneself, fees that leave something,
   * and the limits. Then the payment row, its event and the reserve request, in this
   * transaction. The subscriber row is locked by the caller.
   */
  async #open(client: pg.PoolClient, subscriber: SubscriberRow, operator: OperatorConfig, spec: PaymentSpec): Promise<{ ok: true; paymentId: string; split: PaymentSplit; payeeName: string } | { ok: false; text: string }> {
    const language = spec.language;
    let split: PaymentSplit | null;
    if (spec.payee.kind === 'merchant') {
      const merchant = this.#merchants.get(spec.payee.id);
      if (!merchant || !merchant.operatorIds.includes(operator.id)) return { ok: false, text: reply('unknownPayee', language, { payee: spec.payee.id }) };
      const schedule = this.#config.feeSchedules.find((f) => f.id === merchant.feeScheduleId);
      if (!schedule) throw new Error(`merchant ${merchant.id} has no fee schedule`); // config validation forbids this
      split = splitMerchantPayment(spec.amountMinor, schedule, operator.revenueShareBps);
    } else {
      if (spec.payee.id === subscriber.msisdn) return { ok: false, text: reply('selfTransfer', language) };
      split = splitTransfer(spec.amountMinor);
    }
    if (!split) return { ok: false, text: reply('feesTooHigh', language) };
    const decision = this.#checkPayerLimits(subscriber, spec.amountMinor, await spentSoFar(client, subscriber.msisdn));
    if (!decision.allowed) return { ok: false, text: limitReply(decision.limit, decision.remainingMinor, operator.currency, language) };

    const paymentId = randomUUID();
    await client.query(
      `INSERT INTO payments.payments (payment_id, channel, operator_id, short_code, payer_msisdn, payee_kind, payee_id, currency, amount_minor, fee_minor, operator_share_minor, payee_minor, reference, language, state, request_id, description, confirm_ttl_ms, capture_mode, authorized_minor, mandate_id, consented)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'reserving', $15, $16, $17, $18, $19, $20, $20::text IS NOT NULL)`,
      [paymentId, spec.channel, operator.id, spec.shortCode, subscriber.msisdn, spec.payee.kind, spec.payee.id, operator.currency, split.amountMinor.toString(), split.feeMinor.toString(), split.operatorShareMinor.toString(), split.payeeMinor.toString(), spec.reference, language, spec.requestId, spec.description ?? '', spec.confirmTtlMs ?? null,
        spec.manualCapture ? 'manual' : 'automatic', spec.manualCapture ? split.amountMinor.toString() : null, spec.mandateId ?? null],
    );
    const money = moneyToProto({ amountMinor: split.amountMinor, currency: operator.currency });
    await this.#emit(client, Events.paymentRequested, `${paymentId}:requested`, paymentId, {
      paymentId, channel: { sms: Channel.CHANNEL_SMS, ussd: Channel.CHANNEL_USSD, api: Channel.CHANNEL_MERCHANT_API }[spec.channel], operatorId: operator.id, payerMsisdn: subscriber.msisdn,
      ...(spec.payee.kind === 'merchant' ? { merchantId: spec.payee.id } : { payeeMsisdn: spec.payee.id }), amount: money, reference: spec.reference,
    });
    await this.#emit(client, Events.debitReserveRequested, `${paymentId}:reserve`, paymentId, {
      debitId: paymentId, paymentId, operatorId: operator.id, msisdn: subscriber.msisdn, amount: money, description: `dialpay ${spec.payee.id}`.slice(0, 60),
    });
    this.#log.info({ paymentId, payer: maskMsisdn(subscriber.msisdn), payeeKind: spec.payee.kind, channel: spec.channel }, 'payment requested');
    return { ok: true, paymentId, split, payeeName: this.#payeeName({ payee_kind: spec.payee.kind, payee_id: spec.payee.id }) };
  }

  #checkPayerLimits(subscriber: SubscriberRow, amountMinor: bigint, spent: SpendingSoFar): LimitDecision {
    const limits = this.#config.limits;
    const tier = limits.tiers.find((t) => t.tier === subscriber.kyc_tier) ?? (limits.tiers[0] as Config['limits']['tiers'][number]);
    return checkLimits(amountMinor, tier, spent, limits.paymentsPerMinuteMax);
  }

  /**
   * A right answer. A merchant's request did not count against the payer's limits while it
   * waited, so it is checked now, with what the payer spent meanwhile; velocity is not (a
   * consent is not a new attempt).
   */
  async #consent(client: pg.PoolClient, subscriber: SubscriberRow, payment: PaymentRow): Promise<void> {
    if (payment.channel === 'api' && !payment.consented) {
      const spent = await spentSoFar(client, subscriber.msisdn);
      const decision = this.#checkPayerLimits(subscriber, BigInt(payment.amount_minor), { ...spent, paymentsLastMinute: 0 });
      if (!decision.allowed) return this.#step(client, payment, { kind: 'over-limit' });
    }
    await this.#step(client, payment, { kind: 'answer', correct: true, attemptsMax: this.#config.limits.pinAttemptsMax, manualCapture: payment.capture_mode === 'manual' });
  }

  /**
   * A reply to a challenge. What kind of answer it is (a code or the PIN) is decided first, from
   * its form and the open challenges (answers.ts); it is then compared with that kind of secret
   * only, and a wrong one counts against that kind only.
   */
  async #answer(client: pg.PoolClient, subscriber: SubscriberRow, command: Extract<SmsCommand, { kind: 'confirm' | 'pin' }>, to: { operatorId: string; msisdn: string; shortCode: string }, eventId: string): Promise<void> {
    const { rows } = await client.query<PaymentRow>(
      `SELECT * FROM payments.payments WHERE payer_msisdn = $1 AND state = 'challenged' AND channel IN ('sms', 'api') AND expires_at > now() ORDER BY created_at DESC LIMIT $2 FOR UPDATE`,
      [subscriber.msisdn, OPEN_CHALLENGES_MAX],
    );
    const mandates = (await client.query<MandateRow>(
      `SELECT * FROM payments.mandates WHERE payer_msisdn = $1 AND state = 'pending' AND expires_at > now() ORDER BY created_at DESC LIMIT $2 FOR UPDATE`, [subscriber.msisdn, OPEN_CHALLENGES_MAX],
    )).rows;
    const language = command.kind === 'confirm' ? command.language : subscriber.language;
    const say = (text: string) => this.#sms(client, `${eventId}:reply`, '', to, text);
    const pinRows = rows.filter((p) => p.challenge_method === 'pin');
    const codeRows = rows.filter((p) => p.challenge_method === 'code');
    const digits = command.kind === 'confirm' ? command.code : command.pin;
    const kind = answerKind(command.kind, { pin: pinRows.length, code: codeRows.length + mandates.length });
    switch (kind) {
      case AnswerKind.NOTHING_OPEN:
        return say(reply('noPendingPayment', language));
      case AnswerKind.NO_PIN_CHALLENGE:
        return say(reply('noPinPending', language));
      case AnswerKind.CODE:
        return this.#answerCode(client, subscriber, codeRows, mandates, digits, language, say);
      case AnswerKind.PIN:
        return this.#answerPin(client, subscriber, pinRows, digits, language, say);
    }
  }

  /** A code answer: compared with the open codes only; a wrong one is one wrong code for the subscriber and one attempt on the newest code challenge. */
  async #answerCode(client: pg.PoolClient, subscriber: SubscriberRow, codeRows: PaymentRow[], mandates: MandateRow[], code: string, language: Language, say: (text: string) => Promise<void>): Promise<void> {
    const now = Date.now();
    const guesses: CodeGuessState = { wrongAtMs: subscriber.code_wrong_at.map((d) => d.getTime()), lockedUntilMs: subscriber.code_locked_until?.getTime() ?? null };
    // Locked out: no code is compared at all, a right one included (else the lockout would still answer guesses).
    if (isCodeLocked(guesses, now)) return say(this.#codesLockedText(guesses.lockedUntilMs as number, now, language));
    const mandate = mandates.find((m) => m.code_hash === hashCode(m.mandate_id, code));
    if (mandate) {
      const active = (await client.query<MandateRow>(`UPDATE payments.mandates SET state = 'active', code_hash = NULL, updated_at = now() WHERE mandate_id = $1 RETURNING *`, [mandate.mandate_id])).rows[0] as MandateRow;
      await this.#tellMerchantOfMandate(client, active, 'mandate.activated');
      return say(reply('mandateActive', language, { payee: this.#payeeName({ payee_kind: 'merchant', payee_id: mandate.merchant_id }), cap: formatAmount(BigInt(mandate.cap_minor), mandate.currency, language), period: periodWord(mandate.period, language) }));
    }
    const byCode = codeRows.find((p) => p.challenge_code_hash === hashCode(p.payment_id, code));
    if (byCode) return this.#consent(client, subscriber, byCode);
    // No code matched: one wrong answer, however many codes it was compared with (bounded by the open-request bounds).
    const outcome = recordWrongAnswer(guesses, now, this.#codeGuessRules());
    await client.query('UPDATE payments.subscribers SET code_wrong_at = $2, code_locked_until = $3, updated_at = now() WHERE msisdn = $1', [
      subscriber.msisdn, outcome.state.wrongAtMs.map((ms) => new Date(ms)), outcome.state.lockedUntilMs === null ? null : new Date(outcome.state.lockedUntilMs),
    ]);
    if (outcome.locked) {
      this.#log.warn({ msisdn: maskMsisdn(subscriber.msisdn), openCodes: codeRows.length + mandates.length }, 'too many wrong codes: confirmations by code locked');
      this.#metrics?.codeLocked(client);
      return say(this.#codesLockedText(outcome.lockedUntilMs, now, language));
    }
    const attemptsMax = this.#config.limits.pinAttemptsMax;
    // A code names its payment (above); a wrong one counts on the newest code challenge, a mandate's when no payment's is open.
    const newest = codeRows[0];
    if (newest) return this.#step(client, newest, { kind: 'answer', correct: false, attemptsMax });
    const m = mandates[0] as MandateRow; // answerKind said a code challenge is open
    const attempts = m.attempts + 1;
    await client.query(`UPDATE payments.mandates SET attempts = $2, state = $3, updated_at = now() WHERE mandate_id = $1`, [m.mandate_id, attempts, attempts >= attemptsMax ? 'declined' : 'pending']);
    return say(attempts >= attemptsMax ? reply('mandateDeclined', language) : reply('retry', language, { left: String(attemptsMax - attempts) }));
  }

  /** A PIN answer: compared with the PIN only, never with a code; a wrong one counts toward the PIN lock and on its challenge. */
  async #answerPin(client: pg.PoolClient, subscriber: SubscriberRow, pinRows: PaymentRow[], pin: string, language: Language, say: (text: string) => Promise<void>): Promise<void> {
    // A PIN names no payment: with several PIN challenges open it could confirm one the payer did
    // not mean (a merchant's request that arrived just before). Ask them to settle one at a time.
    if (pinRows.length > 1) return say(reply('severalWaiting', language, { count: String(pinRows.length) }));
    const challenge = pinRows[0] as PaymentRow; // answerKind said a PIN challenge is open
    if (subscriber.pin_locked) return this.#step(client, challenge, { kind: 'stop' });
    const checked = await this.#checkPin(client, subscriber, pin);
    if (checked.kind === 'ok') return this.#consent(client, subscriber, challenge);
    await this.#step(client, challenge, { kind: 'answer', correct: false, attemptsMax: this.#config.limits.pinAttemptsMax });
  }

  #codeGuessRules(): { wrongAnswersMax: number; windowMs: number; lockoutMs: number } {
    const limits = this.#config.limits;
    return { wrongAnswersMax: limits.wrongAnswersPerSubscriberMax, windowMs: limits.wrongAnswersWindowMs, lockoutMs: limits.codeLockoutMs };
  }

  #codesLockedText(lockedUntilMs: number, nowMs: number, language: Language): string {
    return reply('codesLocked', language, { minutes: String(Math.max(1, Math.ceil((lockedUntilMs - nowMs) / 60_000))) });
  }

  /** Checks a PIN against the locked subscriber row; a wrong one counts toward the lock, a right one clears the count. */
  async #checkPin(client: pg.PoolClient, subscriber: SubscriberRow, pin: string): Promise<{ kind: 'ok' } | { kind: 'wrong'; attemptsLeft: number } | { kind: 'locked' }> {
    if (subscriber.pin_locked) return { kind: 'locked' };
    const attemptsMax = this.#config.limits.pinAttemptsMax;
    // No PIN to match (reset by customer care while a PIN challenge was opening): wrong, but it must
    // not lock a PIN the subscriber has yet to choose. The payment's own attempts still end it.
    if (subscriber.pin_hash === null) return { kind: 'wrong', attemptsLeft: attemptsMax - subscriber.pin_failures };
    const correct = await verifySecret(pin, subscriber.pin_hash);
    const failures = correct ? 0 : subscriber.pin_failures + 1;
    if (failures !== subscriber.pin_failures) {
      await client.query('UPDATE payments.subscribers SET pin_failures = $2, pin_locked = $3, updated_at = now() WHERE msisdn = $1', [
        subscriber.msisdn, failures, failures >= attemptsMax,
      ]);
    }
    if (correct) return { kind: 'ok' };
    return failures >= attemptsMax ? { kind: 'locked' } : { kind: 'wrong', attemptsLeft: attemptsMax - failures };
  }

  /**
   * What the USSD menu asks: the subscriber's profile, setting the PIN, and starting,
   * confirming or cancelling a payment. One transaction per command, with the subscriber's
   * row locked, so a subscriber's sessions and SMS are handled one at a time.
   */
  async onSubscriberCommand(request: dialpay.v1.ISubscriberCommandRequest): Promise<dialpay.v1.ISubscriberCommandReply> {
    const operator = this.#operators.get(request.operatorId ?? '');
    const msisdn = request.msisdn ?? '';
    if (!operator || !/^\d{7,15}$/.test(msisdn)) return { outcome: Outcome.COMMAND_OUTCOME_NOT_FOUND };
    if (request.profile) {
      // Every dial asks this: a plain read, no lock and no write (so no commit to wait for on disk).
      const { rows } = await this.#pool.query<{ has_pin: boolean; pin_locked: boolean; language: Language }>(
        'SELECT pin_hash IS NOT NULL AS has_pin, pin_locked, language FROM payments.subscribers WHERE msisdn = $1', [msisdn],
      );
      const known = rows[0];
      return { outcome: Outcome.COMMAND_OUTCOME_OK, hasPin: known?.has_pin ?? false, pinLocked: known?.pin_locked ?? false, language: known?.language ?? operator.defaultLanguage };
    }
    return withTransaction(this.#pool, 'READ COMMITTED', async (client) => {
      const subscriber = await lockSubscriber(client, msisdn, operator);
      if (request.setLanguage) {
        const next = request.setLanguage.language === 'fr' ? 'fr' : 'en';
        await client.query('UPDATE payments.subscribers SET language = $2, updated_at = now() WHERE msisdn = $1', [msisdn, next]);
        return { outcome: Outcome.COMMAND_OUTCOME_OK, language: next };
      }
      if (request.setPin) return this.#setPin(client, subscriber, request.setPin);
      if (request.releaseSession) return this.#releaseUssdSession(client, msisdn, request.releaseSession.sessionId ?? '');
      if (request.startPayment) return this.#startUssd(client, subscriber, operator, request.startPayment);
      const paymentId = request.confirmPayment?.paymentId ?? request.cancelPayment?.paymentId;
      if (!paymentId) return { outcome: Outcome.COMMAND_OUTCOME_NOT_FOUND };
      const payment = (
        await client.query<PaymentRow>(`SELECT * FROM payments.payments WHERE payment_id = $1 AND payer_msisdn = $2 AND channel = 'ussd' FOR UPDATE`, [paymentId, msisdn])
      ).rows[0];
      if (!payment) return { outcome: Outcome.COMMAND_OUTCOME_NOT_FOUND };
      return request.confirmPayment ? this.#confirmUssd(client, payment) : this.#cancelUssd(client, payment);
    });
  }

  /** The merchant API's calls: the gateway checked the key; this keeps the rules and the idempotency. */
  async onMerchantCommand(request: dialpay.v1.IMerchantCommandRequest): Promise<dialpay.v1.IMerchantCommandReply> {
    const merchant = this.#merchants.get(request.merchantId ?? '');
    if (!merchant) return { error: MerchantError.MERCHANT_ERROR_NOT_FOUND, detail: 'unknown merchant' };
    if (request.getPayment) {
      const { rows } = await this.#pool.query<PaymentRow & { refunded_minor: string }>(
        `SELECT *, (SELECT COALESCE(SUM(r.amount_minor), 0) FROM payments.refunds r WHERE r.payment_id = payments.payment_id AND r.state <> 'failed')::text AS refunded_minor FROM payments.payments WHERE payment_id = $1 AND payee_kind = 'merchant' AND payee_id = $2`, [request.getPayment.paymentId ?? '', merchant.id],
      );
      return rows[0] ? { payment: merchantPayment(rows[0], BigInt(rows[0].refunded_minor)) } : { error: MerchantError.MERCHANT_ERROR_NOT_FOUND, detail: 'no such payment' };
    }
    if (request.listPayments) return this.#listForMerchant(merchant, request.listPayments);
    if (request.getMandate) {
      const found = (await this.#pool.query<MandateRow>('SELECT * FROM payments.mandates WHERE mandate_id = $1 AND merchant_id = $2', [request.getMandate.mandateId ?? '', merchant.id])).rows[0];
      return found ? { mandate: await this.#mandateView(this.#pool, found) } : { error: MerchantError.MERCHANT_ERROR_NOT_FOUND, detail: 'no such mandate' };
    }
    const create = request.createPaymentRequest;
    const capture = request.capturePayment;
    const refund = request.refundPayment;
    const newMandate = request.createMandate;
    const charge = request.chargeMandate;
    if (!create && !capture && !refund && !newMandate && !charge) return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'no command' };
    const key = request.idempotencyKey ?? '';
    const bodyHash = Buffer.from(request.bodySha256 ?? []);
    if (key.length === 0 || key.length > 255 || bodyHash.length !== 32) return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'Idempotency-Key and body hash are required' };
    return withTransaction(this.#pool, 'READ COMMITTED', async (client) => {
      // The first request with a key inserts its row and holds it until commit; a concurrent one
      // with the same key waits on the unique index, then reads the committed reply.
      const claimed = await client.query('INSERT INTO payments.api_requests (merchant_id, idempotency_key, body_sha256) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [merchant.id, key, bodyHash]);
      if (claimed.rowCount === 0) {
        const prior = (await client.query<{ body_sha256: Buffer; reply: Buffer | null }>('SELECT body_sha256, reply FROM payments.api_requests WHERE merchant_id = $1 AND idempotency_key = $2', [merchant.id, key])).rows[0];
        if (!prior || !prior.reply) return { error: MerchantError.MERCHANT_ERROR_UNAVAILABLE, detail: 'the first request with this key is still being handled' };
        if (!prior.body_sha256.equals(bodyHash)) return { error: MerchantError.MERCHANT_ERROR_IDEMPOTENCY_CONFLICT, detail: 'this Idempotency-Key was used with another body' };
        return dialpay.v1.MerchantCommandReply.decode(prior.reply);
      }
      const reply = create ? await this.#createForMerchant(client, merchant, create)
        : capture ? await this.#captureForMerchant(client, merchant, capture)
          : refund ? await this.#refundForMerchant(client, merchant, refund)
            : newMandate ? await this.#createMandate(client, merchant, newMandate)
              : await this.#chargeMandate(client, merchant, charge as dialpay.v1.IChargeMandate);
      await client.query('UPDATE payments.api_requests SET reply = $3 WHERE merchant_id = $1 AND idempotency_key = $2', [merchant.id, key, Buffer.from(dialpay.v1.MerchantCommandReply.encode(reply).finish())]);
      return reply;
    });
  }

  async #createForMerchant(client: pg.PoolClient, merchant: MerchantConfig, create: dialpay.v1.ICreatePaymentRequest): Promise<dialpay.v1.IMerchantCommandReply> {
    let amount: { amountMinor: bigint; currency: string };
    try {
      amount = moneyFromProto(create.amount);
    } catch {
      return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'amount is not valid' };
    }
    const payer = this.#payerOf(merchant, create.msisdn ?? '', amount.currency);
    if (!payer) return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: 'the number is not on an operator this merchant is served by, in this currency' };
    const { operator, msisdn } = payer;
    if (amount.amountMinor <= 0n) return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'amount must be positive' };
    const subscriber = await lockSubscriber(client, msisdn, operator);
    if (amount.amountMinor > this.#config.limits.pinRequiredAboveMinor && subscriber.pin_locked) {
      return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: MERCHANT_REFUSAL };
    }
    const refused = await this.#merchantRequestRefused(client, msisdn, merchant.id);
    if (refused) return refused;
    const opened = await this.#open(client, subscriber, operator, {
      payee: { kind: 'merchant', id: merchant.id }, amountMinor: amount.amountMinor, reference: create.reference ?? '', language: subscriber.language,
      channel: 'api', shortCode: operator.shortCodes[0] as string, requestId: null, description: create.description ?? '',
      confirmTtlMs: merchantRequestTtlMs(create.expiresInSeconds ?? 0, this.#config.limits.challengeTtlMs), manualCapture: create.manualCapture === true,
    });
    // The payer's own reasons (their remaining limit, say) are theirs: the merchant gets a stable one.
    if (!opened.ok) return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: MERCHANT_REFUSAL };
    const row = (await client.query<PaymentRow>('SELECT * FROM payments.payments WHERE payment_id = $1', [opened.paymentId])).rows[0] as PaymentRow;
    return { payment: merchantPayment(row) };
  }

  /**
   * The bounds on what merchants may start for one subscriber before they answer
   * (merchant-requests.ts). Called under the subscriber's lock, so two requests at once cannot
   * both take the last place.
   */
  async #merchantRequestRefused(client: pg.PoolClient, msisdn: string, merchantId: string): Promise<dialpay.v1.IMerchantCommandReply | null> {
    const counts = await merchantRequestCounts(client, msisdn, merchantId);
    const limits = this.#config.limits;
    const bounds = { openPerMerchantMax: limits.merchantOpenRequestsPerSubscriberMax, openTotalMax: limits.merchantOpenRequestsPerSubscriberTotalMax, unansweredPerDayMax: limits.merchantUnansweredRequestsPerDayMax };
    switch (merchantRequestRefusal(counts, bounds)) {
      case null: return null;
      case MerchantRequestRefusal.OPEN_PER_MERCHANT:
        return { error: MerchantError.MERCHANT_ERROR_TOO_MANY_OPEN, detail: `${bounds.openPerMerchantMax} requests to this payer already await their answer; one must end first` };
      case MerchantRequestRefusal.OPEN_TOTAL:
        return { error: MerchantError.MERCHANT_ERROR_TOO_MANY_OPEN, detail: 'this payer already has as many requests awaiting their answer as they may; one must end first' };
      case MerchantRequestRefusal.UNANSWERED:
        return { error: MerchantError.MERCHANT_ERROR_TOO_MANY_UNANSWERED, detail: `${bounds.unansweredPerDayMax} requests to this payer expired unanswered in the last 24 hours; try again later` };
    }
  }

  /** Manual capture: the amount used, at most what the payer authorized; the split is taken on it, the rest released. */
  /** The payer's operator: one this merchant is served by, in this currency, whose country the number is in. */
  #payerOf(merchant: MerchantConfig, msisdnText: string, currency: string): { operator: OperatorConfig; msisdn: string } | null {
    for (const id of merchant.operatorIds) {
      const operator = this.#operators.get(id);
      const msisdn = operator ? toE164(msisdnText, operator.countryCallingCode) : null;
      if (operator && msisdn?.startsWith(operator.countryCallingCode) && operator.currency === currency) return { operator, msisdn };
    }
    return null;
  }

  /** A mandate starts pending: the subscriber gets an SMS with a code, and only their YES makes it active. */
  async #createMandate(client: pg.PoolClient, merchant: MerchantConfig, create: dialpay.v1.ICreateMandate): Promise<dialpay.v1.IMerchantCommandReply> {
    let cap: { amountMinor: bigint; currency: string };
    try {
      cap = moneyFromProto(create.cap);
    } catch {
      return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'cap is not valid' };
    }
    const period = create.period ?? '';
    if (cap.amountMinor <= 0n || !['day', 'week', 'month'].includes(period)) return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'cap must be positive and period one of day, week, month' };
    const payer = this.#payerOf(merchant, create.msisdn ?? '', cap.currency);
    if (!payer) return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: 'the number is not on an operator this merchant is served by, in this currency' };
    const subscriber = await lockSubscriber(client, payer.msisdn, payer.operator);
    // A pending mandate is an open challenge like a payment request: the same bounds.
    const refused = await this.#merchantRequestRefused(client, payer.msisdn, merchant.id);
    if (refused) return refused;
    const mandateId = randomUUID();
    const code = String(randomInt(1_000, 10_000));
    const ttlMs = this.#config.limits.challengeTtlMs;
    const { rows } = await client.query<MandateRow>(
      `INSERT INTO payments.mandates (mandate_id, merchant_id, operator_id, payer_msisdn, currency, cap_minor, period, reference, description, state, code_hash, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, now() + ($11::bigint * interval '1 millisecond')) RETURNING *`,
      [mandateId, merchant.id, payer.operator.id, payer.msisdn, cap.currency, cap.amountMinor.toString(), period, create.reference ?? '', create.description ?? '', hashCode(mandateId, code), ttlMs],
    );
    const lang = subscriber.language;
    await this.#sms(client, `${mandateId}:mandate-sms`, '', { operatorId: payer.operator.id, msisdn: payer.msisdn, shortCode: payer.operator.shortCodes[0] as string }, reply('mandateAsk', lang, {
      payee: this.#payeeName({ payee_kind: 'merchant', payee_id: merchant.id }), cap: formatAmount(cap.amountMinor, cap.currency, lang), period: periodWord(period, lang),
      reference: create.reference ?? '', code, minutes: String(Math.max(1, Math.round(ttlMs / 60_000))),
    }), true);
    return { mandate: await this.#mandateView(client, rows[0] as MandateRow) };
  }

  /** A charge inside an active mandate's cap for this period: no new confirmation, a receipt as always. */
  async #chargeMandate(client: pg.PoolClient, merchant: MerchantConfig, charge: dialpay.v1.IChargeMandate): Promise<dialpay.v1.IMerchantCommandReply> {
    const found = (await client.query<MandateRow>('SELECT * FROM payments.mandates WHERE mandate_id = $1 AND merchant_id = $2', [charge.mandateId ?? '', merchant.id])).rows[0];
    if (!found) return { error: MerchantError.MERCHANT_ERROR_NOT_FOUND, detail: 'no such mandate' };
    const operator = this.#operators.get(found.operator_id);
    if (!operator) return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: 'the mandate\'s operator is no longer served' };
    // Same lock order as STOP (subscriber, then mandate), so a revocation and a charge never cross.
    const subscriber = await lockSubscriber(client, found.payer_msisdn, operator);
    const mandate = (await client.query<MandateRow>('SELECT * FROM payments.mandates WHERE mandate_id = $1 FOR UPDATE', [found.mandate_id])).rows[0] as MandateRow;
    if (mandate.state !== 'active') return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: `the mandate is ${mandateStatus(mandate)}, not active` };
    let amount: { amountMinor: bigint; currency: string };
    try {
      amount = moneyFromProto(charge.amount);
    } catch {
      return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'amount is not valid' };
    }
    const charged = await chargedThisPeriod(client, mandate);
    if (amount.currency !== mandate.currency || amount.amountMinor <= 0n || charged + amount.amountMinor > BigInt(mandate.cap_minor)) {
      return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: `at most ${BigInt(mandate.cap_minor) - charged} minor units of ${mandate.currency} are left in this ${mandate.period}` };
    }
    const opened = await this.#open(client, subscriber, operator, {
      payee: { kind: 'merchant', id: merchant.id }, amountMinor: amount.amountMinor, reference: charge.reference || mandate.reference, language: subscriber.language,
      channel: 'api', shortCode: operator.shortCodes[0] as string, requestId: null, description: mandate.description, mandateId: mandate.mandate_id,
    });
    // The payer's own reasons (their remaining limit, say) are theirs: the merchant gets a stable one.
    if (!opened.ok) return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: MERCHANT_REFUSAL };
    const row = (await client.query<PaymentRow>('SELECT * FROM payments.payments WHERE payment_id = $1', [opened.paymentId])).rows[0] as PaymentRow;
    return { payment: merchantPayment(row) };
  }

  async #mandateView(db: pg.ClientBase | pg.Pool, mandate: MandateRow): Promise<dialpay.v1.IMerchantMandate> {
    return merchantMandate(mandate, mandateStatus(mandate), await chargedThisPeriod(db, mandate));
  }

  #tellMerchantOfMandate(client: pg.ClientBase, mandate: MandateRow, type: 'mandate.activated' | 'mandate.revoked'): Promise<void> {
    return this.#mandateView(client, mandate).then((view) =>
      this.#emit(client, Events.merchantEvent, `${mandate.mandate_id}:merchant:${type}`, '', { merchantId: mandate.merchant_id, type, mandate: view }));
  }

  async #captureForMerchant(client: pg.PoolClient, merchant: MerchantConfig, capture: dialpay.v1.ICapturePayment): Promise<dialpay.v1.IMerchantCommandReply> {
    const payment = (await client.query<PaymentRow>(`SELECT * FROM payments.payments WHERE payment_id = $1 AND payee_kind = 'merchant' AND payee_id = $2 FOR UPDATE`, [capture.paymentId ?? '', merchant.id])).rows[0];
    if (!payment) return { error: MerchantError.MERCHANT_ERROR_NOT_FOUND, detail: 'no such payment' };
    if (payment.capture_mode !== 'manual') return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: 'this payment is captured automatically' };
    if (payment.state !== PaymentState.AUTHORIZED) return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: `the payment is ${MERCHANT_STATUS[payment.state]}, not authorized` };
    if (!payment.authorization_expires_at || payment.authorization_expires_at.getTime() <= Date.now()) return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: 'the authorization has expired' };
    let amount: { amountMinor: bigint; currency: string };
    try {
      amount = moneyFromProto(capture.amount);
    } catch {
      return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'amount is not valid' };
    }
    const authorizedMinor = BigInt(payment.authorized_minor ?? payment.amount_minor);
    if (amount.currency !== payment.currency || amount.amountMinor <= 0n || amount.amountMinor > authorizedMinor) {
      return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: `capture between 1 and ${authorizedMinor} minor units of ${payment.currency}` };
    }
    const schedule = this.#config.feeSchedules.find((f) => f.id === merchant.feeScheduleId);
    const operator = this.#operators.get(payment.operator_id);
    const split = schedule && operator ? splitMerchantPayment(amount.amountMinor, schedule, operator.revenueShareBps) : null;
    if (!split) return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: 'this amount is too small to capture after fees' };
    const { rows } = await client.query<PaymentRow>(
      `UPDATE payments.payments SET amount_minor = $2, fee_minor = $3, operator_share_minor = $4, payee_minor = $5, updated_at = now() WHERE payment_id = $1 RETURNING *`,
      [payment.payment_id, split.amountMinor.toString(), split.feeMinor.toString(), split.operatorShareMinor.toString(), split.payeeMinor.toString()],
    );
    const captured = rows[0] as PaymentRow;
    await this.#step(client, captured, { kind: 'merchant-capture' });
    return { payment: merchantPayment({ ...captured, state: PaymentState.CAPTURING }) };
  }

  /** Never more than captured minus refunded (pending refunds included), and only a completed payment. */
  async #refundForMerchant(client: pg.PoolClient, merchant: MerchantConfig, refund: dialpay.v1.IRefundPayment): Promise<dialpay.v1.IMerchantCommandReply> {
    const payment = (await client.query<PaymentRow>(`SELECT * FROM payments.payments WHERE payment_id = $1 AND payee_kind = 'merchant' AND payee_id = $2 FOR UPDATE`, [refund.paymentId ?? '', merchant.id])).rows[0];
    if (!payment) return { error: MerchantError.MERCHANT_ERROR_NOT_FOUND, detail: 'no such payment' };
    if (payment.state !== PaymentState.COMPLETED) return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: `the payment is ${MERCHANT_STATUS[payment.state]}; only a completed payment can be refunded` };
    let amount: { amountMinor: bigint; currency: string };
    try {
      amount = moneyFromProto(refund.amount);
    } catch {
      return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'amount is not valid' };
    }
    const refunded = await refundedMinor(client, payment.payment_id);
    const left = BigInt(payment.amount_minor) - refunded;
    if (amount.currency !== payment.currency || amount.amountMinor <= 0n || amount.amountMinor > left) {
      return { error: MerchantError.MERCHANT_ERROR_REFUSED, detail: `at most ${left} minor units of ${payment.currency} are left to refund` };
    }
    const refundId = randomUUID();
    const { rows } = await client.query<RefundRow>(`INSERT INTO payments.refunds (refund_id, payment_id, amount_minor, state) VALUES ($1, $2, $3, 'pending') RETURNING *`, [refundId, payment.payment_id, amount.amountMinor.toString()]);
    await this.#emit(client, Events.debitRefundRequested, `${refundId}:refund`, payment.payment_id, {
      refundId, debitId: payment.payment_id, paymentId: payment.payment_id, amount: moneyToProto(amount), merchantId: merchant.id,
    });
    this.#log.info({ paymentId: payment.payment_id, refundId }, 'refund requested');
    return { payment: merchantPayment(payment, refunded + amount.amountMinor), refund: merchantRefund(rows[0] as RefundRow, payment.currency) };
  }

  /** Billing gave the money back (or could not): tell the payer and the merchant. */
  async onRefundResult(result: dialpay.v1.IDebitRefundResult): Promise<void> {
    const ok = result.outcome === DebitOutcome.DEBIT_OUTCOME_OK;
    await withTransaction(this.#pool, 'READ COMMITTED', async (client) => {
      const { rows } = await client.query<RefundRow>(
        `UPDATE payments.refunds SET state = $2, detail = $3, updated_at = now() WHERE refund_id = $1 AND state = 'pending' RETURNING *`,
        [result.refundId ?? '', ok ? 'completed' : 'failed', result.detail ?? ''],
      );
      const refund = rows[0];
      if (!refund) return; // a repeated result
      const payment = (await client.query<PaymentRow>('SELECT * FROM payments.payments WHERE payment_id = $1', [refund.payment_id])).rows[0] as PaymentRow;
      if (!ok) {
        this.#log.warn({ paymentId: payment.payment_id, refundId: refund.refund_id, detail: result.detail }, 'refund refused by billing');
        return;
      }
      const lang = payment.language;
      const to = { operatorId: payment.operator_id, msisdn: payment.payer_msisdn, shortCode: payment.short_code };
      await this.#sms(client, `${refund.refund_id}:refund-sms`, payment.payment_id, to, reply('refunded', lang, {
        amount: formatAmount(BigInt(refund.amount_minor), payment.currency, lang), payee: this.#payeeName(payment), paymentRef: payment.payment_id.slice(0, 8).toUpperCase(),
      }));
      await this.#emit(client, Events.merchantEvent, `${refund.refund_id}:merchant:refunded`, payment.payment_id, {
        merchantId: payment.payee_id, type: 'payment.refunded',
        payment: merchantPayment(payment, await refundedMinor(client, payment.payment_id)), refund: merchantRefund(refund, payment.currency),
      });
    });
  }

  async #listForMerchant(merchant: MerchantConfig, list: dialpay.v1.IListPayments): Promise<dialpay.v1.IMerchantCommandReply> {
    const limit = Math.min(Math.max(list.limit || MERCHANT_PAGE_DEFAULT, 1), MERCHANT_PAGE_MAX);
    const states = list.status ? statesOf(list.status) : null;
    if (list.status && !states) return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: `unknown status "${list.status}"` };
    const cursor = list.cursor ? decodeCursor(list.cursor) : null;
    if (list.cursor && !cursor) return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'cursor is not one we gave out' };
    const fromMs = Number(int64ToBigInt(list.fromUnixMs as never));
    const toMs = Number(int64ToBigInt(list.toUnixMs as never)) || Date.now() + 1;
    const { rows } = await this.#pool.query<PaymentRow & { cursor_at: string; refunded_minor: string }>(
      `SELECT *, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at, (SELECT COALESCE(SUM(r.amount_minor), 0) FROM payments.refunds r WHERE r.payment_id = payments.payment_id AND r.state <> 'failed')::text AS refunded_minor FROM payments.payments
       WHERE payee_kind = 'merchant' AND payee_id = $1 AND created_at >= to_timestamp($2::double precision / 1000) AND created_at < to_timestamp($3::double precision / 1000)
         AND ($4::text[] IS NULL OR state = ANY($4))
         AND ($5::timestamptz IS NULL OR (created_at, payment_id) < ($5::timestamptz, $6::text))
       ORDER BY created_at DESC, payment_id DESC LIMIT $7`,
      [merchant.id, fromMs, toMs, states, cursor?.createdAtIso ?? null, cursor?.paymentId ?? '', limit + 1],
    );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      payments: page.map((row) => merchantPayment(row, BigInt(row.refunded_minor))),
      nextCursor: rows.length > limit && last ? encodeCursor({ createdAtIso: last.cursor_at, paymentId: last.payment_id }) : '',
    };
  }

  async #setPin(client: pg.PoolClient, subscriber: SubscriberRow, command: dialpay.v1.ISetPin): Promise<dialpay.v1.ISubscriberCommandReply> {
    const newPin = command.newPin ?? '';
    if (!isAcceptablePin(newPin)) return { outcome: Outcome.COMMAND_OUTCOME_REFUSED };
    if (subscriber.pin_hash !== null) {
      const check = await this.#checkPin(client, subscriber, command.currentPin ?? '');
      if (check.kind === 'locked') return { outcome: Outcome.COMMAND_OUTCOME_PIN_LOCKED };
      if (check.kind === 'wrong') return { outcome: Outcome.COMMAND_OUTCOME_WRONG_PIN, attemptsLeft: check.attemptsLeft };
    }
    // Not locked here: a set PIN was just checked, and one with no PIN before can hold no lock.
    await client.query('UPDATE payments.subscribers SET pin_hash = $2, pin_failures = 0, pin_locked = false, updated_at = now() WHERE msisdn = $1', [subscriber.msisdn, await hashSecret(newPin)]);
    this.#log.info({ msisdn: maskMsisdn(subscriber.msisdn) }, 'PIN set');
    return { outcome: Outcome.COMMAND_OUTCOME_OK, hasPin: true };
  }

  /** The PIN first (it was asked last on the menu), then the same rules as SMS, then the reserve. */
  async #startUssd(client: pg.PoolClient, subscriber: SubscriberRow, operator: OperatorConfig, command: dialpay.v1.IStartPayment): Promise<dialpay.v1.ISubscriberCommandReply> {
    const language: Language = command.language === 'fr' ? 'fr' : command.language === 'en' ? 'en' : subscriber.language;
    const requestId = command.requestId ?? '';
    if (requestId) {
      // The same hop again (an operator retry): the payment it started, not a second one.
      const again = (await client.query<PaymentRow>('SELECT * FROM payments.payments WHERE request_id = $1 AND payer_msisdn = $2', [requestId, subscriber.msisdn])).rows[0];
      if (again) return this.#quote(again.payment_id, again.amount_minor, again.fee_minor, again.currency, this.#payeeName(again));
    }
    const pin = await this.#checkPin(client, subscriber, command.pin ?? '');
    if (pin.kind === 'locked') return { outcome: Outcome.COMMAND_OUTCOME_PIN_LOCKED, text: reply('pinLocked', language) };
    if (pin.kind === 'wrong') return { outcome: Outcome.COMMAND_OUTCOME_WRONG_PIN, attemptsLeft: pin.attemptsLeft };
    let amount: { amountMinor: bigint; currency: string };
    try {
      amount = moneyFromProto(command.amount);
    } catch {
      return { outcome: Outcome.COMMAND_OUTCOME_REFUSED, text: reply('feesTooHigh', language) };
    }
    if (amount.currency !== operator.currency || amount.amountMinor <= 0n) return { outcome: Outcome.COMMAND_OUTCOME_REFUSED, text: reply('feesTooHigh', language) };
    const payee: Payee = { kind: command.payeeKind === dialpay.v1.PayeeKind.PAYEE_KIND_SUBSCRIBER ? 'subscriber' : 'merchant', id: command.payeeId ?? '' };
    const opened = await this.#open(client, subscriber, operator, {
      payee, amountMinor: amount.amountMinor, reference: (command.reference ?? '').slice(0, 40), language, channel: 'ussd',
      shortCode: operator.shortCodes[0] as string, requestId: requestId || null,
    });
    if (!opened.ok) return { outcome: Outcome.COMMAND_OUTCOME_REFUSED, text: opened.text };
    return this.#quote(opened.paymentId, opened.split.amountMinor, opened.split.feeMinor, operator.currency, opened.payeeName);
  }

  #quote(paymentId: string, amountMinor: bigint, feeMinor: bigint, currency: string, payeeName: string): dialpay.v1.ISubscriberCommandReply {
    return {
      outcome: Outcome.COMMAND_OUTCOME_OK, paymentId, payeeName,
      amount: moneyToProto({ amountMinor: BigInt(amountMinor), currency }), fee: moneyToProto({ amountMinor: BigInt(feeMinor), currency }),
    };
  }

  /** The confirmation screen's "1": consent. Before the carrier answered the reserve, it is kept for then. */
  async #confirmUssd(client: pg.PoolClient, payment: PaymentRow): Promise<dialpay.v1.ISubscriberCommandReply> {
    switch (payment.state) {
      case PaymentState.RESERVING:
        await client.query('UPDATE payments.payments SET consented = true, updated_at = now() WHERE payment_id = $1', [payment.payment_id]);
        return { outcome: Outcome.COMMAND_OUTCOME_OK, paymentId: payment.payment_id };
      case PaymentState.CHALLENGED:
        if (payment.expires_at && payment.expires_at.getTime() <= Date.now()) return this.#ended(payment, FailureReason.EXPIRED);
        await this.#step(client, payment, { kind: 'answer', correct: true, attemptsMax: this.#config.limits.pinAttemptsMax });
        return { outcome: Outcome.COMMAND_OUTCOME_OK, paymentId: payment.payment_id };
      case PaymentState.AUTHORIZED:
      case PaymentState.CAPTURING:
      case PaymentState.COMPLETED:
        return { outcome: Outcome.COMMAND_OUTCOME_OK, paymentId: payment.payment_id };
      case PaymentState.FAILED:
        return this.#ended(payment, (payment.failure_reason as FailureReasonValue | null) ?? FailureReason.CARRIER_ERROR);
    }
  }

  /** The network ended the dialogue: what it started and the subscriber did not confirm is cancelled now, its hold voided. */
  async #releaseUssdSession(client: pg.PoolClient, msisdn: string, sessionId: string): Promise<dialpay.v1.ISubscriberCommandReply> {
    if (sessionId.length === 0 || sessionId.length > 200) return { outcome: Outcome.COMMAND_OUTCOME_NOT_FOUND };
    // The menu's request ids are "<session id>#<screen>": the prefix names this dialogue's payments. Consented ones go on.
    const { rows } = await client.query<PaymentRow>(
      `SELECT * FROM payments.payments WHERE payer_msisdn = $1 AND channel = 'ussd' AND state IN ('reserving', 'challenged') AND NOT consented AND starts_with(request_id, $2) FOR UPDATE`,
      [msisdn, `${sessionId}#`],
    );
    for (const payment of rows) await this.#step(client, payment, { kind: 'stop' });
    return { outcome: Outcome.COMMAND_OUTCOME_OK, cancelled: rows.length };
  }

  async #cancelUssd(client: pg.PoolClient, payment: PaymentRow): Promise<dialpay.v1.ISubscriberCommandReply> {
    if (payment.state === PaymentState.RESERVING || payment.state === PaymentState.CHALLENGED) {
      await this.#step(client, payment, { kind: 'stop' });
      return { outcome: Outcome.COMMAND_OUTCOME_OK, paymentId: payment.payment_id };
    }
    return payment.state === PaymentState.FAILED ? { outcome: Outcome.COMMAND_OUTCOME_OK, paymentId: payment.payment_id } : { outcome: Outcome.COMMAND_OUTCOME_ENDED, paymentId: payment.payment_id };
  }

  #ended(payment: PaymentRow, reason: FailureReasonValue): dialpay.v1.ISubscriberCommandReply {
    return { outcome: Outcome.COMMAND_OUTCOME_ENDED, paymentId: payment.payment_id, text: failedReply(reason, payment.amount_minor, payment.currency, payment.language) };
  }

  /** A USSD payment's PIN was checked before the reserve; its challenge is the confirmation screen, not an SMS. */
  async #awaitUssdConsent(client: pg.PoolClient, payment: PaymentRow): Promise<void> {
    const id = payment.payment_id;
    const ttlMs = this.#config.limits.challengeTtlMs;
    await client.query(`UPDATE payments.payments SET challenge_method = 'ussd', expires_at = now() + ($2::bigint * interval '1 millisecond') WHERE payment_id = $1`, [id, ttlMs]);
    await this.#emit(client, Events.paymentChallenged, `${id}:challenged`, id, {
      paymentId: id, method: ChallengeMethod.CHALLENGE_METHOD_PIN, expiresAtUnixMs: bigIntToInt64(BigInt(Date.now() + ttlMs)),
      amount: moneyToProto({ amountMinor: payment.amount_minor, currency: payment.currency }),
      fee: moneyToProto({ amountMinor: payment.fee_minor, currency: payment.currency }),
    });
    // Confirm was pressed before the carrier answered: that was the consent.
    if (payment.consented) {
      await this.#step(client, { ...payment, state: PaymentState.CHALLENGED, challenge_attempts: 0, challenge_method: 'ussd' }, { kind: 'answer', correct: true, attemptsMax: this.#config.limits.pinAttemptsMax });
    }
  }

  /** Applies one input: the pure transition, then its state and actions in this transaction. */
  async #step(client: pg.PoolClient, payment: PaymentRow, input: PaymentInput): Promise<void> {
    const next = transition({ state: payment.state, challengeAttempts: payment.challenge_attempts }, input);
    if (next.state === payment.state && next.actions.length === 0) return;
    const failure = next.actions.find((a): a is Extract<PaymentAction, { kind: 'fail' }> => a.kind === 'fail')?.reason ?? null;
    await client.query(
      `UPDATE payments.payments SET state = $2, challenge_attempts = $3, failure_reason = COALESCE($4, failure_reason), consented = consented OR $5, updated_at = now() WHERE payment_id = $1`,
      [payment.payment_id, next.state, next.challengeAttempts, failure, input.kind === 'answer' && input.correct],
    );
    for (const action of next.actions) await this.#act(client, payment, action, next.challengeAttempts);
    if (next.state !== payment.state && (next.state === PaymentState.COMPLETED || next.state === PaymentState.FAILED)) {
      // updated_at was set when the confirmation moved it to capturing; a merchant's capture or a mandate charge had no payer confirmation.
      const payerConfirmed = payment.state === PaymentState.CAPTURING && payment.capture_mode !== 'manual' && !payment.mandate_id;
      this.#metrics?.ended(client, {
        channel: payment.channel, outcome: next.state, reason: failure,
        confirmedAt: next.state === PaymentState.COMPLETED && payerConfirmed ? payment.updated_at : null,
      });
    }
    this.#log.info({ paymentId: payment.payment_id, from: payment.state, to: next.state, input: input.kind }, 'payment transition');
  }

  async #act(client: pg.PoolClient, payment: PaymentRow, action: PaymentAction, attempts: number): Promise<void> {
    const id = payment.payment_id;
    const to = { operatorId: payment.operator_id, msisdn: payment.payer_msisdn, shortCode: payment.short_code };
    const lang = payment.language;
    const amount = formatAmount(payment.amount_minor, payment.currency, lang);
    const payee = this.#payeeName(payment);
    switch (action.kind) {
      case 'challenge': {
        if (payment.channel === 'ussd') return this.#awaitUssdConsent(client, payment);
        const subscriber = (await client.query<SubscriberRow>('SELECT * FROM payments.subscribers WHERE msisdn = $1', [payment.payer_msisdn])).rows[0];
        const usePin = payment.amount_minor > this.#config.limits.pinRequiredAboveMinor && !!subscriber?.pin_hash && !subscriber.pin_locked;
        const code = String(randomInt(1_000, 10_000));
        const ttlMs = payment.confirm_ttl_ms ?? this.#config.limits.challengeTtlMs;
        await client.query(
          `UPDATE payments.payments SET challenge_method = $2, challenge_code_hash = $3, expires_at = now() + ($4::bigint * interval '1 millisecond') WHERE payment_id = $1`,
          [id, usePin ? 'pin' : 'code', usePin ? null : hashCode(id, code), ttlMs],
        );
        const minutes = String(Math.max(1, Math.round(ttlMs / 60_000)));
        const fee = formatAmount(payment.fee_minor, payment.currency, lang);
        await this.#emit(client, Events.paymentChallenged, `${id}:challenged`, id, {
          paymentId: id, method: usePin ? ChallengeMethod.CHALLENGE_METHOD_PIN : ChallengeMethod.CHALLENGE_METHOD_ONE_TIME_CODE,
          expiresAtUnixMs: bigIntToInt64(BigInt(Date.now() + ttlMs)),
          amount: moneyToProto({ amountMinor: payment.amount_minor, currency: payment.currency }),
          fee: moneyToProto({ amountMinor: payment.fee_minor, currency: payment.currency }),
        });
        // A manual capture asks consent for the most it may cost; the fee shown is on that most.
        const asked = payment.capture_mode === 'manual' ? `${lang === 'fr' ? 'jusqu a' : 'up to'} ${amount}` : amount;
        const text = usePin
          ? reply('challengePin', lang, { amount: asked, payee, fee, minutes })
          : reply('challengeCode', lang, { amount: asked, payee, fee, minutes, code, reference: payment.reference });
        return this.#sms(client, `${id}:challenge-sms`, id, to, text, true);
      }
      case 'authorize': {
        // Consent for up to the amount: the hold stays until the merchant captures or it expires.
        await client.query(`UPDATE payments.payments SET authorization_expires_at = now() + ($2::bigint * interval '1 millisecond') WHERE payment_id = $1`, [id, this.#config.limits.authorizationTtlMs]);
        await this.#emit(client, Events.paymentConfirmed, `${id}:confirmed`, id, {
          paymentId: id, method: payment.challenge_method === 'pin' ? ChallengeMethod.CHALLENGE_METHOD_PIN : ChallengeMethod.CHALLENGE_METHOD_ONE_TIME_CODE,
        });
        return this.#sms(client, `${id}:authorized-sms`, id, to, reply('authorized', lang, { amount, payee }));
      }
      case 'capture':
        // A manual capture was confirmed when it was authorized; this is the merchant's capture.
        if (payment.capture_mode !== 'manual') {
          await this.#emit(client, Events.paymentConfirmed, `${id}:confirmed`, id, {
            paymentId: id, method: payment.challenge_method === 'pin' ? ChallengeMethod.CHALLENGE_METHOD_PIN : ChallengeMethod.CHALLENGE_METHOD_ONE_TIME_CODE,
          });
        }
        return this.#requestCapture(client, payment, `${id}:capture`);
      case 'void':
        return this.#emit(client, Events.debitVoidRequested, `${id}:void`, id, { debitId: id, paymentId: id, reason: 'payment not completed' });
      case 'receipts': {
        await this.#emit(client, Events.paymentCompleted, `${id}:completed`, id, {
          paymentId: id, amount: moneyToProto({ amountMinor: payment.amount_minor, currency: payment.currency }),
          fee: moneyToProto({ amountMinor: payment.fee_minor, currency: payment.currency }), transferId: `capture:${id}`,
        });
        await this.#tellMerchant(client, payment, 'completed', null);
        const ref = id.slice(0, 8).toUpperCase();
        await this.#sms(client, `${id}:receipt-payer`, id, to, reply('receiptPayer', lang, { amount, payee, fee: formatAmount(payment.fee_minor, payment.currency, lang), paymentRef: ref }));
        if (payment.payee_kind === 'subscriber') {
          // A payee we have not heard from yet reads their operator's language, not the payer's.
          const payeeLang = (await client.query<{ language: Language }>('SELECT language FROM payments.subscribers WHERE msisdn = $1', [payment.payee_id])).rows[0]?.language
            ?? this.#operators.get(payment.operator_id)?.defaultLanguage ?? 'en';
          const received = formatAmount(payment.payee_minor, payment.currency, payeeLang);
          await this.#sms(client, `${id}:receipt-payee`, id, { ...to, msisdn: payment.payee_id }, reply('receiptPayee', payeeLang, { amount: received, payer: `+${payment.payer_msisdn}`, paymentRef: ref }));
        }
        return;
      }
      case 'retry-prompt':
        return this.#sms(client, `${id}:retry-${attempts}`, id, to, reply('retry', lang, { left: String(action.attemptsLeft) }), true);
      case 'fail':
        await this.#emit(client, Events.paymentFailed, `${id}:failed`, id, { paymentId: id, reason: failureCode(action.reason), detail: action.reason });
        await this.#tellMerchant(client, payment, 'failed', action.reason);
        return this.#sms(client, `${id}:failed-sms`, id, to, failedReply(action.reason, payment.amount_minor, payment.currency, lang));
    }
  }

  /** A payment to a merchant ended: the webhook event, in the transaction that ended it. */
  #tellMerchant(client: pg.ClientBase, payment: PaymentRow, state: 'completed' | 'failed', reason: FailureReasonValue | null): Promise<void> {
    if (payment.payee_kind !== 'merchant') return Promise.resolve();
    const id = payment.payment_id;
    return this.#emit(client, Events.merchantEvent, `${id}:merchant:${state}`, id, {
      merchantId: payment.payee_id, type: `payment.${state}`,
      payment: merchantPayment({ ...payment, state, updated_at: new Date(), failure_reason: reason ?? payment.failure_reason }),
    });
  }

  #requestCapture(client: pg.ClientBase, payment: PaymentRow, eventId: string): Promise<void> {
    const money = (amountMinor: bigint) => moneyToProto({ amountMinor, currency: payment.currency });
    return this.#emit(client, Events.debitCaptureRequested, eventId, payment.payment_id, {
      debitId: payment.payment_id, paymentId: payment.payment_id, amount: money(payment.amount_minor),
      ...(payment.payee_kind === 'merchant' ? { merchantId: payment.payee_id } : { payeeMsisdn: payment.payee_id }),
      payeeAmount: money(payment.payee_minor), fee: money(payment.fee_minor), operatorShare: money(payment.operator_share_minor),
    });
  }

  /** Asks billing (request/reply, bounded wait); an unanswered query gets an honest "try later". */
  async #balanceText(operator: OperatorConfig, msisdn: string, language: Language): Promise<string> {
    let answer: dialpay.v1.IBalanceReply;
    try {
      answer = await requestReply(this.#nc, Requests.billingBalance, { operatorId: operator.id, msisdn, statementLinesMax: STATEMENT_LINES_SMS }, BALANCE_TIMEOUT_MS);
    } catch (err) {
      this.#log.warn({ err }, 'balance query unanswered');
      return reply('balanceUnavailable', language);
    }
    if (!answer.available || !answer.balance) return reply('balanceUnavailable', language);
    const balance = formatAmount(moneyFromProto(answer.balance).amountMinor, operator.currency, language);
    const lines = (answer.lines ?? []).map((l) => {
      const at = new Date(Number(int64ToBigInt(l.atUnixMs as never)));
      const date = `${String(at.getUTCDate()).padStart(2, '0')}/${String(at.getUTCMonth() + 1).padStart(2, '0')}`;
      const who = /^\d+$/.test(l.counterparty ?? '') ? `+${l.counterparty}` : (l.counterparty ?? '');
      return `${formatAmount(moneyFromProto(l.amount).amountMinor, operator.currency, language)} ${who} ${date}`;
    });
    return reply('balance', language, { balance, lines: lines.join('; ') });
  }

  #payeeName(payment: Pick<PaymentRow, 'payee_kind' | 'payee_id'>): string {
    if (payment.payee_kind === 'merchant') {
      const merchant = this.#merchants.get(payment.payee_id);
      return merchant ? `${merchant.name} (${merchant.id})` : payment.payee_id;
    }
    return `+${payment.payee_id}`;
  }

  #sms(client: pg.ClientBase, eventId: string, paymentId: string, to: { operatorId: string; msisdn: string; shortCode: string }, text: string, urgent = false): Promise<void> {
    return this.#emit(client, Events.smsOutbound, eventId, paymentId, {
      messageRef: eventId, operatorId: to.operatorId, toMsisdn: to.msisdn, fromAddress: to.shortCode, text, receiptRequested: true,
      priority: urgent ? SmsPriority.SMS_PRIORITY_HIGH : SmsPriority.SMS_PRIORITY_NORMAL,
    });
  }

  #emit<M extends EventMessage>(client: pg.ClientBase, def: EventDef<M>, eventId: string, paymentId: string, body: Omit<M, 'envelope'>): Promise<void> {
    const message = { ...body, envelope: newEnvelope({ producer: PRODUCER, eventId, paymentId, correlationId: paymentId || eventId }) } as M;
    return enqueueEvent(client, SCHEMA, def, message);
  }
}

/**
 * What the payer spent this day and month (UTC, the pool's zone) and tried in the last minute.
 * Money counts unless the payment failed; velocity counts every attempt, failed ones too, so
 * failing payments on purpose cannot be used to guess codes quickly. A merchant's request counts
 * only once the payer consented: a merchant cannot use up someone's limits by asking.
 */
async function spentSoFar(client: pg.ClientBase, msisdn: string): Promise<SpendingSoFar> {
  const { rows } = await client.query<{ today: string; month: string; minute: number }>(
    `SELECT COALESCE(SUM(amount_minor) FILTER (WHERE state <> 'failed' AND created_at >= date_trunc('day', now())), 0)::text AS today,
            COALESCE(SUM(amount_minor) FILTER (WHERE state <> 'failed'), 0)::text AS month,
            count(*) FILTER (WHERE created_at >= now() - interval '1 minute')::int AS minute
     FROM payments.payments WHERE payer_msisdn = $1 AND created_at >= date_trunc('month', now()) AND (channel <> 'api' OR consented)`,
    [msisdn],
  );
  const spent = rows[0] as { today: string; month: string; minute: number };
  return { todayMinor: BigInt(spent.today), monthMinor: BigInt(spent.month), paymentsLastMinute: spent.minute };
}

/**
 * The subscriber's row, created on first contact with the operator's language, locked for this
 * transaction. FOR NO KEY UPDATE, not FOR UPDATE: it still serialises one MSISDN's commands, but
 * lets a payment row's foreign-key check (FOR KEY SHARE on this row) through. With FOR UPDATE a
 * debit result updating a payment twice in one transaction waits on the subscriber while the
 * subscriber's command waits on the payment: a deadlock.
 */
async function lockSubscriber(client: pg.PoolClient, msisdn: string, operator: OperatorConfig): Promise<SubscriberRow> {
  await client.query('INSERT INTO payments.subscribers (msisdn, language) VALUES ($1, $2) ON CONFLICT (msisdn) DO NOTHING', [msisdn, operator.defaultLanguage]);
  return (await client.query<SubscriberRow>('SELECT * FROM payments.subscribers WHERE msisdn = $1 FOR NO KEY UPDATE', [msisdn])).rows[0] as SubscriberRow;
}

interface MandateRow {
  mandate_id: string;
  merchant_id: string;
  operator_id: string;
  payer_msisdn: string;
  currency: string;
  cap_minor: string;
  period: 'day' | 'week' | 'month';
  reference: string;
  description: string;
  state: 'pending' | 'active' | 'declined' | 'expired' | 'revoked';
  code_hash: string | null;
  attempts: number;
  expires_at: Date;
  created_at: Date;
}

/** A pending mandate past its confirmation time reads as expired. */
function mandateStatus(mandate: MandateRow): string {
  return mandate.state === 'pending' && mandate.expires_at.getTime() <= Date.now() ? 'expired' : mandate.state;
}

/** Charged under the mandate in the current calendar period (UTC), failed charges aside. */
async function chargedThisPeriod(db: pg.ClientBase | pg.Pool, mandate: MandateRow): Promise<bigint> {
  const { rows } = await db.query<{ total: string }>(
    `SELECT COALESCE(SUM(amount_minor), 0)::text AS total FROM payments.payments WHERE mandate_id = $1 AND state <> 'failed' AND created_at >= date_trunc($2, now())`,
    [mandate.mandate_id, mandate.period],
  );
  return BigInt(rows[0]?.total ?? '0');
}

function periodWord(period: string, language: Language): string {
  const words: Record<string, Record<Language, string>> = { day: { en: 'day', fr: 'jour' }, week: { en: 'week', fr: 'semaine' }, month: { en: 'month', fr: 'mois' } };
  return words[period]?.[language] ?? period;
}

interface RefundRow {
  refund_id: string;
  payment_id: string;
  amount_minor: string;
  state: 'pending' | 'completed' | 'failed';
  created_at: Date;
}

/** Refunds asked for and not failed: pending ones count, so two at once cannot overshoot. */
async function refundedMinor(client: pg.ClientBase, paymentId: string): Promise<bigint> {
  const { rows } = await client.query<{ total: string }>(`SELECT COALESCE(SUM(amount_minor), 0)::text AS total FROM payments.refunds WHERE payment_id = $1 AND state <> 'failed'`, [paymentId]);
  return BigInt(rows[0]?.total ?? '0');
}

function merchantRefund(refund: RefundRow, currency: string): dialpay.v1.IMerchantRefund {
  return { refundId: refund.refund_id, status: refund.state, amount: moneyToProto({ amountMinor: BigInt(refund.amount_minor), currency }), createdAtUnixMs: bigIntToInt64(BigInt(refund.created_at.getTime())) };
}

/** Four digits, not one digit four times: the first thing anyone tries. */
export function isAcceptablePin(pin: string): boolean {
  return /^\d{4}$/.test(pin) && !/^(\d)\1{3}$/.test(pin);
}

function failureCode(reason: FailureReasonValue): dialpay.v1.FailureReason {
  const F = dialpay.v1.FailureReason;
  switch (reason) {
    case FailureReason.LIMIT: return F.FAILURE_REASON_LIMIT_EXCEEDED;
    case FailureReason.INSUFFICIENT_FUNDS: return F.FAILURE_REASON_INSUFFICIENT_FUNDS;
    case FailureReason.EXPIRED: return F.FAILURE_REASON_CHALLENGE_EXPIRED;
    case FailureReason.WRONG_CODE: return F.FAILURE_REASON_CHALLENGE_FAILED;
    case FailureReason.CANCELLED: return F.FAILURE_REASON_CANCELLED;
    case FailureReason.UNKNOWN_PAYEE: return F.FAILURE_REASON_UNKNOWN_PAYEE;
    case FailureReason.CARRIER_ERROR: return F.FAILURE_REASON_CARRIER_ERROR;
    case FailureReason.PIN_LOCKED: return F.FAILURE_REASON_PIN_LOCKED;
  }
}

export { PaymentState };
