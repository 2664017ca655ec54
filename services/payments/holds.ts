// Risk holds: a payment a risk rule stopped (payments' velocity rules at open, risk-rules.ts; or
// billing's checks at reserve, DEBIT_OUTCOME_RISK_HOLD such as "sim-swap") waits in 'held' with
// nothing reserved and no challenge sent. It gets a customer-care case and the payer an SMS in their
// language saying so; never a challenge, which the person holding the phone could answer.
// Care releases or rejects it (care.ts); unreviewed, the sweep fails it after risk.holdTtlMs.
import type pg from 'pg';
import { fundingToProto, moneyToProto } from '../../proto/index.js';
import { Events } from '../../runtime/nats/index.js';
import type { Language } from '../../runtime/language.js';
import { maskMsisdn } from '../../runtime/log.js';
import { formatAmount } from '../../runtime/money.js';
import { addEvent, caseOfPayment, lockCaseOfPayment, lockExpiredHolds, openCase } from './care-store.js';
import { reply } from './replies.js';
import { payerOf, type PaymentRow } from './rows.js';
import { readPayment } from './store.js';
import { SMS_NOTICE } from './sms-options.js';
import type { PaymentEngine } from './engine.js';

/** Why a payment is held, as the payer reads it; a rule not listed reads as a security check. */
const RULE_PHRASES: Readonly<Record<string, Readonly<Record<Language, string>>>> = {
  'distinct-payees': {
    en: 'payments to many different payees in a short time', fr: 'des paiements a de nombreux beneficiaires en peu de temps',
  },
  'new-payee': { en: 'a first large payment to this payee', fr: 'un premier paiement important a ce beneficiaire' },
  'merchant-spike': { en: 'unusual activity at this merchant', fr: 'une activite inhabituelle chez ce commercant' },
  'sim-swap': { en: 'a recent SIM change on your line', fr: 'un changement recent de carte SIM sur votre ligne' },
  // billing's onUnavailable: hold, when the operator's SIM Swap API did not answer.
  'sim-swap-unavailable': {
    en: 'your operator could not confirm your SIM card just now', fr: 'votre operateur n a pas pu confirmer votre carte SIM',
  },
};
const ANY_RULE: Readonly<Record<Language, string>> = { en: 'a security check', fr: 'un controle de securite' };

/** The rule as stored: what billing's detail or a rule names it, bounded. */
export function ruleName(detail: string): string {
  const name = detail.trim().slice(0, 64);
  return name === '' ? 'unspecified' : name;
}

/** Why the payment is held, in the payer's language: the rule's phrase, or "a security check" for a rule not listed. */
export function holdReason(rule: string, language: Language): string {
  return (RULE_PHRASES[rule] ?? ANY_RULE)[language];
}

export function heldText(engine: PaymentEngine, payment: PaymentRow, rule: string, caseId: string): string {
  const lang = payment.language;
  return reply('held', lang, {
    amount: formatAmount(payment.amount_minor, payment.currency, lang), payee: engine.payeeName(payment),
    why: holdReason(rule, lang), caseId,
  });
}

/**
 * The shared part of a hold, in the transaction that put the payment in 'held' (engine.step's
 * 'hold' action, or open() inserting it held): the case (one per payment) and the payer's SMS.
 * Idempotent: the case and the SMS's event id are the payment's. Returns the payer's text.
 */
export async function holdPayment(engine: PaymentEngine, client: pg.PoolClient, payment: PaymentRow, rule: string): Promise<string> {
  const id = payment.payment_id;
  const caseId = await openCase(client, payment, rule);
  const text = heldText(engine, payment, rule, caseId);
  await engine.sms(client, `${id}:held-sms`, id, payerOf(payment), text, SMS_NOTICE);
  engine.metrics?.held(client, rule);
  engine.log.info({ paymentId: id, caseId, rule, payer: maskMsisdn(payment.payer_msisdn) }, 'payment held for customer care');
  return text;
}

/** open()'s hold (risk.ts fired): the row inserted 'held' in this transaction gets its case and SMS; no reserve. */
export async function holdAtOpen(
  engine: PaymentEngine, client: pg.PoolClient, paymentId: string, rule: string,
): Promise<{ ok: false; text: string; held: true }> {
  const payment = await readPayment(client, paymentId);
  if (!payment) throw new Error(`held payment ${paymentId} vanished from its own transaction`);
  return { ok: false, text: await holdPayment(engine, client, payment, rule), held: true };
}

/**
 * Care released the held payment: its reserve asked (again, for one billing held), as open() asks it, with
 * risk_cleared so billing does not screen it again. A new event id: the first request's was taken.
 */
export function requestReserveAgain(engine: PaymentEngine, client: pg.ClientBase, payment: PaymentRow): Promise<void> {
  const id = payment.payment_id;
  return engine.emit(client, Events.debitReserveRequested, `${id}:reserve-released`, id, {
    debitId: id, paymentId: id, operatorId: payment.operator_id, msisdn: payment.payer_msisdn,
    amount: moneyToProto({ amountMinor: payment.amount_minor, currency: payment.currency }),
    description: `dialpay ${payment.payee_id}`.slice(0, 60), funding: fundingToProto(payment.funding), agentId: payment.agent_id ?? '',
    riskCleared: true,
  });
}

/** The hold's text again, for a channel that asks about a held payment (USSD's confirm pressed after the hold). */
export async function heldTextOf(engine: PaymentEngine, client: pg.ClientBase, payment: PaymentRow): Promise<string> {
  const found = await caseOfPayment(client, payment.payment_id);
  return heldText(engine, payment, found?.rule ?? '', found?.case_id ?? '-');
}

/** Held payments care did not review within risk.holdTtlMs, per sweep; the rest wait for the next one. */
const HOLD_EXPIRY_BATCH_MAX = 100;

/**
 * The sweep's part (sweep.ts, in its transaction): each held payment past risk.holdTtlMs fails (hold-expired,
 * the payer told) and its case gets its 'expired' event. Returns how many.
 */
export async function expireHolds(engine: PaymentEngine, client: pg.PoolClient): Promise<number> {
  const holdTtlMs = engine.config.risk.holdTtlMs;
  const rows = await lockExpiredHolds(client, HOLD_EXPIRY_BATCH_MAX, holdTtlMs);
  for (const payment of rows) {
    const found = await lockCaseOfPayment(client, payment.payment_id);
    if (found?.status === 'open') {
      await addEvent(client, found.case_id, 'expired', 'dialpay', `not reviewed within ${Math.round(holdTtlMs / 60_000)} min`);
    }
    await engine.step(client, payment, { kind: 'expired' });
    engine.metrics?.holdExpired(client, found?.rule ?? 'unspecified');
    engine.log.warn({ paymentId: payment.payment_id, caseId: found?.case_id, rule: found?.rule }, 'held payment expired unreviewed');
  }
  return rows.length;
}
