// What a merchant's payment request may do to a subscriber before the
// subscriber has said anything. Pure.
//
// A request reserves its amount when the challenge goes out, like every other
// payment (DESIGN.md: reserve when the challenge is sent, capture on
// confirmation); what bounds it is time and number. The hold and the challenge
// last at most one SMS challenge (`limits.challengeTtlMs`), whatever the
// merchant's `expiresInSeconds` asks; the merchant reads the real expiry in
// `expiresAt`. We chose this over reserving only after consent because it
// keeps one state machine and one billing flow for every channel, and a payer
// who confirms is told at once, not after a second carrier round trip, whether
// the money is there. Requests not yet answered count against none of the
// subscriber's own limits (they are checked again when the subscriber consents).
//
// Number: each merchant may have only a few requests (payment requests and
// pending mandates alike) waiting for one subscriber, and all merchants
// together only a few more, so holds cannot be stacked and one `YES <code>`
// is compared with a bounded number of codes. Time: a merchant whose requests
// to a subscriber keep expiring unanswered may make only so many a day, so
// reissuing them every challenge cannot keep the money frozen.

/** How long the payer has to answer, and the hold lasts: the merchant's wish, never past one challenge. */
export function merchantRequestTtlMs(expiresInSeconds: number, challengeTtlMs: number): number {
  if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 0) {
    throw new RangeError(`expiresInSeconds must be a non-negative integer, got ${expiresInSeconds}`);
  }
  return expiresInSeconds === 0 ? challengeTtlMs : Math.min(expiresInSeconds * 1000, challengeTtlMs);
}

/** The window over which unanswered requests are counted (rolling). */
export const UNANSWERED_WINDOW_MS = 24 * 60 * 60_000;

export interface MerchantRequestBounds {
  /** Requests and pending mandates from one merchant waiting for this subscriber. */
  readonly openPerMerchantMax: number;
  /** The same, over all merchants. */
  readonly openTotalMax: number;
  /** This merchant's requests and mandates to this subscriber that expired unanswered within UNANSWERED_WINDOW_MS. */
  readonly unansweredPerDayMax: number;
}

export interface MerchantRequestCounts {
  readonly openThisMerchant: number;
  readonly openAllMerchants: number;
  readonly unansweredThisMerchant: number;
}

export const MerchantRequestRefusal = {
  OPEN_PER_MERCHANT: 'open-per-merchant', OPEN_TOTAL: 'open-total', UNANSWERED: 'unanswered',
} as const;
export type MerchantRequestRefusalValue = (typeof MerchantRequestRefusal)[keyof typeof MerchantRequestRefusal];

/** Why a new request (or mandate) from this merchant to this subscriber is refused, or null if it may be made. */
export function merchantRequestRefusal(
  counts: MerchantRequestCounts, bounds: MerchantRequestBounds,
): MerchantRequestRefusalValue | null {
  if (counts.openThisMerchant > counts.openAllMerchants) {
    throw new RangeError('one merchant cannot have more open than all merchants together');
  }
  if (counts.unansweredThisMerchant >= bounds.unansweredPerDayMax) return MerchantRequestRefusal.UNANSWERED;
  if (counts.openThisMerchant >= bounds.openPerMerchantMax) return MerchantRequestRefusal.OPEN_PER_MERCHANT;
  if (counts.openAllMerchants >= bounds.openTotalMax) return MerchantRequestRefusal.OPEN_TOTAL;
  return null;
}
