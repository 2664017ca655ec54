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
// the money is there. Each merchant may have only a few requests waiting for
// one subscriber, so holds cannot be stacked, and requests not yet answered
// count against none of the subscriber's own limits (they are checked again
// when the subscriber consents).

/** How long the payer has to answer, and the hold lasts: the merchant's wish, never past one challenge. */
export function merchantRequestTtlMs(expiresInSeconds: number, challengeTtlMs: number): number {
  if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 0) throw new RangeError(`expiresInSeconds must be a non-negative integer, got ${expiresInSeconds}`);
  return expiresInSeconds === 0 ? challengeTtlMs : Math.min(expiresInSeconds * 1000, challengeTtlMs);
}

/** A new request from this merchant to this subscriber is refused once `openCount` of theirs await an answer. */
export function mayOpenMerchantRequest(openCount: number, openMax: number): boolean {
  return openCount < openMax;
}
