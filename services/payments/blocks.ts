// `dialpay subscriber block` / `unblock` (and the operator API's): customer care stops money leaving a
// line (a lost phone, a court order) and lets it again. A blocked line cannot pay, send, withdraw or buy
// airtime, by any channel (engine.open asks blockedPayerRefusal, under the subscriber's lock), nor be
// charged by a merchant's request or mandate; it still receives (transfers, cash-in, deposits, payouts,
// refunds), and BAL and a PIN reset still work. The subscriber is told by SMS, in their language; each
// change is appended to payments.subscriber_block_changes, which the database keeps append-only.
// Blocking a blocked line (or unblocking an unblocked one) changes nothing, records nothing, texts nobody.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Config } from '../../runtime/config/index.js';
import type { Language } from '../../runtime/language.js';
import { Events } from '../../runtime/nats/index.js';
import { emitEvent, withTransaction } from '../../runtime/pg/index.js';
import { checkCareChange } from './care-change.js';
import { OUTBOX } from './outbox.js';
import { refusalText } from './refusals.js';
import { lockSubscriber } from './store.js';
import { reply } from './replies.js';
import { SMS_NOTICE, smsOutboundBody } from './sms-options.js';
import type { PaymentRow, SubscriberRow } from './rows.js';
import type { PaymentEngine } from './engine.js';
import { PaymentState } from './state.js';

/** A payment still waiting for its payer's consent: what a block stops. */
const CONSENTABLE: ReadonlySet<string> = new Set([PaymentState.RESERVING, PaymentState.CHALLENGED]);

export interface SubscriberBlockChange {
  readonly operatorId: string;
  /** As customer care types it: E.164 with or without '+', or national. */
  readonly msisdn: string;
  /** Who made the change (the customer-care agent, or the operator system's user). */
  readonly by: string;
  /** Why: the care case or the court order's reference. */
  readonly reason: string;
}

export type SubscriberBlockResult =
  | { readonly kind: 'changed'; readonly msisdn: string; readonly blocked: boolean }
  /** Already so: nothing written, nothing recorded, no SMS. */
  | { readonly kind: 'unchanged'; readonly msisdn: string; readonly blocked: boolean }
  /** Not a phone number, or another operator's. */
  | { readonly kind: 'bad-number' }
  | { readonly kind: 'missing'; readonly field: 'by' | 'reason' };

export function blockSubscriber(pool: pg.Pool, config: Config, change: SubscriberBlockChange): Promise<SubscriberBlockResult> {
  return withTransaction(pool, 'READ COMMITTED', (client) => setBlockedIn(client, config, change, true));
}

export function unblockSubscriber(pool: pg.Pool, config: Config, change: SubscriberBlockChange): Promise<SubscriberBlockResult> {
  return withTransaction(pool, 'READ COMMITTED', (client) => setBlockedIn(client, config, change, false));
}

/**
 * A block or an unblock in the caller's transaction (the operator API's holds its Idempotency-Key): checked
 * first, so a refused change writes nothing.
 */
export async function setBlockedIn(
  client: pg.ClientBase, config: Config, change: SubscriberBlockChange, blocked: boolean,
): Promise<SubscriberBlockResult> {
  const checked = checkCareChange(config, change, { field: 'reason', value: change.reason });
  if (!checked.ok) return checked.kind === 'missing' ? { kind: 'missing', field: checked.field } : { kind: 'bad-number' };
  const { operator, msisdn, by, reference: reason } = checked;
  // A line not seen yet gets its row now (a lost phone may be reported before its first payment), locked as
  // every payment's opening locks it: a payment opened before the block commits was checked before it; none after.
  const subscriber = await lockSubscriber(client, msisdn, operator.defaultLanguage);
  if ((subscriber.blocked_at !== null) === blocked) return { kind: 'unchanged', msisdn, blocked };
  await client.query(
    `UPDATE payments.subscribers SET blocked_at = CASE WHEN $2 THEN now() END, block_reason = CASE WHEN $2 THEN $3 END,
       updated_at = now() WHERE msisdn = $1`,
    [msisdn, blocked, reason],
  );
  await client.query(
    `INSERT INTO payments.subscriber_block_changes (operator_id, msisdn, blocked, changed_by, reason)
     VALUES ($1, $2, $3, $4, $5)`,
    [operator.id, msisdn, blocked, by, reason],
  );
  const eventId = `${blocked ? 'block' : 'unblock'}:${randomUUID()}`;
  const to = { operatorId: operator.id, msisdn, shortCode: operator.shortCodes[0] as string };
  const text = reply(blocked ? 'subscriberBlocked' : 'subscriberUnblocked', subscriber.language);
  // A security notice: it keeps its value however late.
  await emitEvent(client, OUTBOX, Events.smsOutbound, { eventId }, smsOutboundBody(eventId, to, text, SMS_NOTICE));
  return { kind: 'changed', msisdn, blocked };
}

/**
 * engine.open's check, on the payer's locked row, before anything is reserved: the refusal a blocked payer
 * reads, or null. Every way money leaves a line opens a payment (SMS, USSD, a merchant's request or mandate
 * charge, a cash-out, airtime, an agent's cash-in from its float), so this one check covers them all. Pure.
 */
export function blockedPayerRefusal(subscriber: Pick<SubscriberRow, 'blocked_at'>, language: Language): string | null {
  return subscriber.blocked_at ? refusalText('subscriber_blocked', language) : null;
}

/**
 * A payment asked for before the line was blocked and consented to after it (an SMS answer, the USSD
 * confirmation): stopped, unpaid, its hold released. True when it was stopped. Under the payer's lock.
 */
export async function stopIfPayerBlocked(
  e: PaymentEngine, client: pg.PoolClient, subscriber: Pick<SubscriberRow, 'blocked_at'>, payment: PaymentRow,
): Promise<boolean> {
  if (!subscriber.blocked_at || !CONSENTABLE.has(payment.state)) return false;
  await e.step(client, payment, { kind: 'stop' });
  return true;
}
