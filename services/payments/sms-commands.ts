// The SMS channel: a subscriber's text, parsed (sms-grammar.ts) and handled
// exactly once per event, in one transaction holding the subscriber's row
// lock, so one MSISDN's commands are handled one at a time. BAL asks billing
// before that transaction: its wait holds no lock.
import type pg from 'pg';
import type { dialpay } from '../../proto/index.js';
import { balanceView } from '../../runtime/statement.js';
import type { OperatorConfig } from '../../runtime/config/index.js';
import { Requests, requestReply } from '../../runtime/nats/index.js';
import { handleOnce } from '../../runtime/pg/index.js';
import { parseSmsCommand, type SmsCommand } from './sms-grammar.js';
import type { Language } from '../../runtime/language.js';
import { FailureReason } from './state.js';
import { reply } from './replies.js';
import { failedReply } from './refusals.js';
import { revokeMandatesOf } from './mandates.js';
import { answerChallenge } from './sms-answers.js';
import * as store from './store.js';
import type { Destination, Payee, SubscriberRow } from './rows.js';
import { SCHEMA, type PaymentEngine } from './engine.js';
import { SMS_REPLY } from './sms-options.js';
import { isE164 } from '../../runtime/msisdn.js';
import { agentByMsisdn } from './agents.js';
import { openCashIn } from './cash.js';
import { PAYMENTS_SMS_INBOUND } from './consumers.js';

/** Whose handled SMS processed_events records (handleOnce); index.ts records a batch's at once. */
export const SMS_INBOUND_CONSUMER = PAYMENTS_SMS_INBOUND.durableName;
/** The event id an inbound SMS is handled once by. */
export const inboundEventId = (message: dialpay.v1.ISmsInbound): string | null => message.envelope?.eventId || null;

/** How long BAL waits for billing before saying "try later". */
const BALANCE_TIMEOUT_MS = 2_000;
/** Movements shown in the BAL reply: the last five, as a mini statement. */
const STATEMENT_LINES_SMS = 5;

export class SmsCommands {
  readonly #e: PaymentEngine;

  constructor(engine: PaymentEngine) {
    this.#e = engine;
  }

  /** A subscriber's SMS: exactly once per event, whatever the redeliveries. */
  async onInboundSms(message: dialpay.v1.ISmsInbound): Promise<void> {
    const eventId = message.envelope?.eventId as string;
    const sender = this.#sender(message);
    // BAL waits for billing (up to BALANCE_TIMEOUT_MS). Asked here, before the transaction, that
    // wait holds neither the subscriber's row lock (which would stall the same phone's PAY or YES)
    // nor a pooled connection. A redelivered BAL asks again; a balance query changes nothing.
    const balance = sender && isBalanceCommand(message.text ?? '', sender.operator)
      ? await this.#askBalance(sender.operator, sender.msisdn) : null;
    await handleOnce(this.#e.pool, SCHEMA, SMS_INBOUND_CONSUMER, eventId, (client) => this.#command(client, message, balance));
  }

  #sender(message: dialpay.v1.ISmsInbound): { operator: OperatorConfig; msisdn: string } | null {
    const operator = this.#e.operators.get(message.operatorId ?? '');
    const msisdn = message.fromMsisdn ?? '';
    return operator && isE164(msisdn) ? { operator, msisdn } : null;
  }

  async #command(
    client: pg.PoolClient, message: dialpay.v1.ISmsInbound, balance: dialpay.v1.IBalanceReply | null,
  ): Promise<void> {
    const e = this.#e;
    const sender = this.#sender(message);
    if (!sender) {
      e.log.warn({ operatorId: message.operatorId }, 'inbound SMS from an unknown operator or number; ignored');
      return;
    }
    const { operator, msisdn } = sender;
    const subscriber = await store.lockSubscriber(client, msisdn, operator.defaultLanguage);
    const command = parseSmsCommand(message.text ?? '', {
      currency: operator.currency, countryCallingCode: operator.countryCallingCode, defaultLanguage: subscriber.language,
    });
    const to = { operatorId: operator.id, msisdn, shortCode: message.toAddress ?? operator.shortCodes[0] ?? '' };
    const eventId = message.envelope?.eventId as string;
    const say = (text: string) => e.sms(client, `${eventId}:reply`, '', to, text, SMS_REPLY);
    switch (command.kind) {
      case 'invalid':
      case 'help':
        return say(reply((await agentByMsisdn(client, msisdn)) ? 'helpAgent' : 'help', command.language));
      case 'language':
        await store.setLanguage(client, msisdn, command.language);
        return say(reply('languageSet', command.language));
      case 'balance':
        return say(balanceText(balance, operator, command.language));
      case 'stop': {
        const open = await store.lockOpenPayments(client, msisdn);
        for (const payment of open) await e.step(client, payment, { kind: 'stop' });
        const revoked = await revokeMandatesOf(e, client, msisdn);
        const text = reply('stopped', command.language);
        return say(revoked > 0 ? `${text} ${reply('mandatesRevoked', command.language, { count: String(revoked) })}` : text);
      }
      case 'deposit': {
        const opened = await openCashIn(e, client, subscriber, operator, {
          payeeMsisdn: command.payeeMsisdn, amountMinor: command.amountMinor, language: command.language,
          channel: 'sms', shortCode: to.shortCode, requestId: null,
        });
        return opened.ok ? undefined : say(opened.text);
      }
      case 'pay':
      case 'send':
      case 'airtime':
      case 'withdraw':
        return this.#start(client, subscriber, operator, command, to, eventId);
      case 'confirm':
      case 'pin':
        return answerChallenge(e, client, subscriber, command, say);
    }
  }

  /** An SMS PAY, SEND, AIRTIME or WITHDRAW (cash.ts): open the payment, or say why not. */
  async #start(
    client: pg.PoolClient, subscriber: SubscriberRow, operator: OperatorConfig, command: StartCommand, to: Destination, eventId: string,
  ): Promise<void> {
    const say = (text: string) => this.#e.sms(client, `${eventId}:reply`, '', to, text, SMS_REPLY);
    // Above the PIN threshold a locked PIN blocks the payment: never fall back to an SMS code,
    // which the person holding the phone would receive.
    if (command.amountMinor > this.#e.config.limits.pinRequiredAboveMinor && subscriber.pin_locked) {
      return say(failedReply(FailureReason.PIN_LOCKED, command.amountMinor, operator.currency, command.language));
    }
    const opened = await this.#e.open(client, subscriber, operator, {
      payee: payeeOf(command, subscriber), amountMinor: command.amountMinor, reference: command.kind === 'pay' ? command.reference : '',
      language: command.language, channel: 'sms', shortCode: to.shortCode, requestId: null,
    });
    if (!opened.ok && !opened.held) await say(opened.text); // a hold's SMS is sent with its case (holds.ts)
  }

  /** Asks billing (request/reply, bounded wait); null when unanswered, for an honest "try later". */
  async #askBalance(operator: OperatorConfig, msisdn: string): Promise<dialpay.v1.IBalanceReply | null> {
    try {
      return await requestReply(this.#e.nc, Requests.billingBalance,
        { operatorId: operator.id, msisdn, statementLinesMax: STATEMENT_LINES_SMS }, BALANCE_TIMEOUT_MS);
    } catch (err) {
      this.#e.log.warn({ err }, 'balance query unanswered');
      return null;
    }
  }
}

type StartCommand = Extract<SmsCommand, { kind: 'pay' | 'send' | 'airtime' | 'withdraw' }>;

/** Whom an SMS PAY, SEND, AIRTIME (airtime.ts) or WITHDRAW (cash.ts) pays. */
function payeeOf(command: StartCommand, subscriber: SubscriberRow): Payee {
  switch (command.kind) {
    case 'pay': return { kind: 'merchant', id: command.merchantCode };
    case 'send': return { kind: 'subscriber', id: command.payeeMsisdn };
    case 'withdraw': return { kind: 'agent', id: command.agentId };
    case 'airtime': return { kind: 'airtime', id: command.targetMsisdn ?? subscriber.msisdn };
  }
}

/** Whether the text is BAL (or SOLDE): the command's kind does not depend on the subscriber's language. */
export function isBalanceCommand(text: string, operator: OperatorConfig): boolean {
  return parseSmsCommand(text, {
    currency: operator.currency, countryCallingCode: operator.countryCallingCode, defaultLanguage: operator.defaultLanguage,
  }).kind === 'balance';
}

/**
 * The BAL reply from billing's answer (null: unanswered): the dialpay wallet beside the carrier
 * account (a wallet-model operator's account is the wallet), and the mini statement.
 */
function balanceText(answer: dialpay.v1.IBalanceReply | null, operator: OperatorConfig, language: Language): string {
  const view = balanceView(answer, operator.currency, language);
  if (!view) return reply('balanceUnavailable', language);
  const lines = view.lines.join('; ');
  if (view.carrierUnavailable && view.wallet) {
    return reply('balancesNoCarrier', language, { wallet: view.wallet, operator: operator.name, lines });
  }
  if (!view.balance || !view.wallet) return reply('balance', language, { balance: view.shown, lines });
  return reply('balances', language, { wallet: view.wallet, operator: operator.name, balance: view.balance, lines });
}
