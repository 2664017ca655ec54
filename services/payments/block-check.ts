// engine.open's check that a payer's line is not blocked (blocks.ts sets and lifts blocks). Its own
// module because blocks.ts writes through engine.ts's outbox: engine.ts importing blocks.ts would be a cycle.
import type { Language } from '../../runtime/language.js';
import { refusalText } from './refusals.js';
import type { SubscriberRow } from './rows.js';

/**
 * On the payer's locked row, before anything is reserved: the refusal a blocked payer reads, or null. Every
 * way money leaves a line opens a payment (SMS, USSD, a merchant's request or mandate charge, a cash-out,
 * airtime, an agent's cash-in from its float), so this one check covers them all. Pure.
 */
export function blockedPayerRefusal(subscriber: Pick<SubscriberRow, 'blocked_at'>, language: Language): string | null {
  return subscriber.blocked_at ? refusalText('subscriber_blocked', language) : null;
}
