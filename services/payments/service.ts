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
import { verifySecret } from '../../runtime/secrets.js';
import { formatAmount } from './amount.js';
import { parseSmsCommand, type Language, type SmsCommand } from './sms-grammar.js';
import { splitMerchantPayment, splitTransfer, type PaymentSplit } from './fees.js';
import { checkLimits } from './limits.js';
import { FailureReason, PaymentState, transition, type PaymentAction, type PaymentInput, type PaymentStateValue, type FailureReasonValue } from './state.js';
import { failedReply, limitReply, reply } from './replies.js';

const SCHEMA = 'payments';
export const PRODUCER = 'payments';
const { DebitOutcome, Channel, ChallengeMethod, SmsPriority } = dialpay.v1;
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
  challenge_method: 'code' | 'pin' | null;
  challenge_code_hash: string | null;
  challenge_attempts: number;
}

interface SubscriberRow {
  msisdn: string;
  language: Language;
  kyc_tier: number;
  pin_hash: string | null;
  pin_failures: number;
  pin_locked: boolean;
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

  constructor(options: { pool: pg.Pool; nc: NatsConnection; config: Config; log: Logger }) {
    this.#pool = options.pool;
    this.#nc = options.nc;
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
      const rows = [...expired.rows, ...unanswered.rows];
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
      await this.#step(client, payment, input);
    });
  }

  async #command(client: pg.PoolClient, message: dialpay.v1.ISmsInbound): Promise<void> {
    const operator = this.#operators.get(message.operatorId ?? '');
    const msisdn = message.fromMsisdn ?? '';
    if (!operator || !/^\d{7,15}$/.test(msisdn)) {
      this.#log.warn({ operatorId: message.operatorId }, 'inbound SMS from an unknown operator or number; ignored');
      return;
    }
    await client.query('INSERT INTO payments.subscribers (msisdn, language) VALUES ($1, $2) ON CONFLICT (msisdn) DO NOTHING', [msisdn, operator.defaultLanguage]);
    const subscriber = (await client.query<SubscriberRow>('SELECT * FROM payments.subscribers WHERE msisdn = $1 FOR UPDATE', [msisdn])).rows[0] as SubscriberRow;
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
        const open = await client.query<PaymentRow>(`SELECT * FROM payments.payments WHERE payer_msisdn = $1 AND state IN ('reserving', 'challenged') FOR UPDATE`, [msisdn]);
        for (const payment of open.rows) await this.#step(client, payment, { kind: 'stop' });
        return say(reply('stopped', command.language));
      }
      case 'pay':
      case 'send':
        return this.#start(client, subscriber, operator, command, to, eventId);
      case 'confirm':
      case 'pin':
        return this.#answer(client, subscriber, command, to, eventId);
    }
  }

  async #start(
    client: pg.PoolClient,
    subscriber: SubscriberRow,
    operator: OperatorConfig,
    command: Extract<SmsCommand, { kind: 'pay' | 'send' }>,
    to: { operatorId: string; msisdn: string; shortCode: string },
    eventId: string,
  ): Promise<void> {
    const language = command.language;
    const say = (text: string) => this.#sms(client, `${eventId}:reply`, '', to, text);
    let split: PaymentSplit | null;
    let payeeKind: 'merchant' | 'subscriber';
    let payeeId: string;
    if (command.kind === 'pay') {
      const merchant = this.#merchants.get(command.merchantCode);
      if (!merchant || !merchant.operatorIds.includes(operator.id)) return say(reply('unknownPayee', language, { payee: command.merchantCode }));
      const schedule = this.#config.feeSchedules.find((f) => f.id === merchant.feeScheduleId);
      if (!schedule) throw new Error(`merchant ${merchant.id} has no fee schedule`); // config validation forbids this
      split = splitMerchantPayment(command.amountMinor, schedule, operator.revenueShareBps);
      payeeKind = 'merchant';
      payeeId = merchant.id;
    } else {
      if (command.payeeMsisdn === subscriber.msisdn) return say(reply('selfTransfer', language));
      split = splitTransfer(command.amountMinor);
      payeeKind = 'subscriber';
      payeeId = command.payeeMsisdn;
    }
    if (!split) return say(reply('feesTooHigh', language));
    // Above the PIN threshold a locked PIN blocks the payment: never fall back to an SMS code,
    // which the person holding the phone would receive.
    if (command.amountMinor > this.#config.limits.pinRequiredAboveMinor && subscriber.pin_locked) {
      return say(failedReply(FailureReason.PIN_LOCKED, command.amountMinor, operator.currency, language));
    }
    const limits = this.#config.limits;
    const tier = limits.tiers.find((t) => t.tier === subscriber.kyc_tier) ?? (limits.tiers[0] as Config['limits']['tiers'][number]);
    // Money counts unless the payment failed; velocity counts every attempt, failed ones too,
    // so failing payments on purpose cannot be used to guess codes quickly. Windows are UTC (the pool's zone).
    const { rows } = await client.query<{ today: bigint; month: bigint; minute: number }>(
      `SELECT COALESCE(SUM(amount_minor) FILTER (WHERE state <> 'failed' AND created_at >= date_trunc('day', now())), 0) AS today,
              COALESCE(SUM(amount_minor) FILTER (WHERE state <> 'failed'), 0) AS month,
              count(*) FILTER (WHERE created_at >= now() - interval '1 minute')::int AS minute
       FROM payments.payments WHERE payer_msisdn = $1 AND created_at >= date_trunc('month', now())`,
      [subscriber.msisdn],
    );
    const spent = rows[0] as { today: bigint; month: bigint; minute: number };
    const decision = checkLimits(command.amountMinor, tier, { todayMinor: BigInt(spent.today), monthMinor: BigInt(spent.month), paymentsLastMinute: spent.minute }, limits.paymentsPerMinuteMax);
    if (!decision.allowed) return say(limitReply(decision.limit, decision.remainingMinor, operator.currency, language));

    const paymentId = randomUUID();
    const reference = command.kind === 'pay' ? command.reference : '';
    await client.query(
      `INSERT INTO payments.payments (payment_id, channel, operator_id, short_code, payer_msisdn, payee_kind, payee_id, currency, amount_minor, fee_minor, operator_share_minor, payee_minor, reference, language, state)
       VALUES ($1, 'sms', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'reserving')`,
      [paymentId, operator.id, to.shortCode, subscriber.msisdn, payeeKind, payeeId, operator.currency, split.amountMinor.toString(), split.feeMinor.toString(), split.operatorShareMinor.toString(), split.payeeMinor.toString(), reference, language],
    );
    const money = moneyToProto({ amountMinor: split.amountMinor, currency: operator.currency });
    await this.#emit(client, Events.paymentRequested, `${paymentId}:requested`, paymentId, {
      paymentId, channel: Channel.CHANNEL_SMS, operatorId: operator.id, payerMsisdn: subscriber.msisdn,
      ...(payeeKind === 'merchant' ? { merchantId: payeeId } : { payeeMsisdn: payeeId }), amount: money, reference,
    });
    await this.#emit(client, Events.debitReserveRequested, `${paymentId}:reserve`, paymentId, {
      debitId: paymentId, paymentId, operatorId: operator.id, msisdn: subscriber.msisdn, amount: money, description: `dialpay ${payeeId}`.slice(0, 60),
    });
    this.#log.info({ paymentId, payer: maskMsisdn(subscriber.msisdn), payeeKind }, 'payment requested');
  }

  async #answer(client: pg.PoolClient, subscriber: SubscriberRow, command: Extract<SmsCommand, { kind: 'confirm' | 'pin' }>, to: { operatorId: string; msisdn: string; shortCode: string }, eventId: string): Promise<void> {
    const { rows } = await client.query<PaymentRow>(
      `SELECT * FROM payments.payments WHERE payer_msisdn = $1 AND state = 'challenged' AND expires_at > now() ORDER BY created_at DESC LIMIT $2 FOR UPDATE`,
      [subscriber.msisdn, OPEN_CHALLENGES_MAX],
    );
    const language = command.kind === 'confirm' ? command.language : subscriber.language;
    const newest = rows[0];
    if (!newest) return this.#sms(client, `${eventId}:reply`, '', to, reply('noPendingPayment', language));
    const attemptsMax = this.#config.limits.pinAttemptsMax;
    const code = command.kind === 'confirm' ? command.code : command.pin;
    // With several challenges open, a one-time code names its payment: confirm that one.
    const byCode = rows.find((p) => p.challenge_method === 'code' && p.challenge_code_hash === hashCode(p.payment_id, code));
    if (byCode) return this.#step(client, byCode, { kind: 'answer', correct: true, attemptsMax });
    if (newest.challenge_method !== 'pin') return this.#step(client, newest, { kind: 'answer', correct: false, attemptsMax });
    // A PIN answers the newest challenge; wrong PINs count toward the lock.
    if (subscriber.pin_locked) return this.#step(client, newest, { kind: 'stop' });
    const correct = subscriber.pin_hash !== null && (await verifySecret(code, subscriber.pin_hash));
    const failures = correct ? 0 : subscriber.pin_failures + 1;
    await client.query('UPDATE payments.subscribers SET pin_failures = $2, pin_locked = $3, updated_at = now() WHERE msisdn = $1', [
      subscriber.msisdn, failures, failures >= attemptsMax,
    ]);
    await this.#step(client, newest, { kind: 'answer', correct, attemptsMax });
  }

  /** Applies one input: the pure transition, then its state and actions in this transaction. */
  async #step(client: pg.PoolClient, payment: PaymentRow, input: PaymentInput): Promise<void> {
    const next = transition({ state: payment.state, challengeAttempts: payment.challenge_attempts }, input);
    if (next.state === payment.state && next.actions.length === 0) return;
    const failure = next.actions.find((a): a is Extract<PaymentAction, { kind: 'fail' }> => a.kind === 'fail')?.reason ?? null;
    await client.query(
      `UPDATE payments.payments SET state = $2, challenge_attempts = $3, failure_reason = COALESCE($4, failure_reason), updated_at = now() WHERE payment_id = $1`,
      [payment.payment_id, next.state, next.challengeAttempts, failure],
    );
    for (const action of next.actions) await this.#act(client, payment, action, next.challengeAttempts);
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
        const subscriber = (await client.query<SubscriberRow>('SELECT * FROM payments.subscribers WHERE msisdn = $1', [payment.payer_msisdn])).rows[0];
        const usePin = payment.amount_minor > this.#config.limits.pinRequiredAboveMinor && !!subscriber?.pin_hash && !subscriber.pin_locked;
        const code = String(randomInt(1_000, 10_000));
        const ttlMs = this.#config.limits.challengeTtlMs;
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
        const text = usePin
          ? reply('challengePin', lang, { amount, payee, fee, minutes })
          : reply('challengeCode', lang, { amount, payee, fee, minutes, code, reference: payment.reference });
        return this.#sms(client, `${id}:challenge-sms`, id, to, text, true);
      }
      case 'capture':
        await this.#emit(client, Events.paymentConfirmed, `${id}:confirmed`, id, {
          paymentId: id, method: payment.challenge_method === 'pin' ? ChallengeMethod.CHALLENGE_METHOD_PIN : ChallengeMethod.CHALLENGE_METHOD_ONE_TIME_CODE,
        });
        return this.#requestCapture(client, payment, `${id}:capture`);
      case 'void':
        return this.#emit(client, Events.debitVoidRequested, `${id}:void`, id, { debitId: id, paymentId: id, reason: 'payment not completed' });
      case 'receipts': {
        await this.#emit(client, Events.paymentCompleted, `${id}:completed`, id, {
          paymentId: id, amount: moneyToProto({ amountMinor: payment.amount_minor, currency: payment.currency }),
          fee: moneyToProto({ amountMinor: payment.fee_minor, currency: payment.currency }), transferId: `capture:${id}`,
        });
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
        return this.#sms(client, `${id}:failed-sms`, id, to, failedReply(action.reason, payment.amount_minor, payment.currency, lang));
    }
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

  #payeeName(payment: PaymentRow): string {
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
