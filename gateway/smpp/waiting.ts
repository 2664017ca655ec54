// Outbound SMS this replica sent back to JetStream to wait out an SMSC outage (no bind, or temporary
// refusals), for the gauge dialpay_sms_outbound_waiting_messages{operator}. A message is counted from
// its first wait until it is sent, dropped as expired or given up here; one not seen again within
// its wait and a grace (another replica took it, or it left the stream) stops counting. Approximate
// across replicas: a message may count briefly on two. Bounded: the oldest entries go first.

/** How long past its wait a message still counts without being seen again. */
export const WAITING_GRACE_MS = 60_000;
/** Waiting messages remembered per replica, about 150 bytes each. */
export const WAITING_MESSAGES_MAX = 100_000;

export class WaitingMessages {
  readonly #byEvent = new Map<string, { readonly operator: string; readonly untilMs: number }>();
  constructor(
    readonly entriesMax: number = WAITING_MESSAGES_MAX, readonly graceMs: number = WAITING_GRACE_MS,
    private readonly nowMs: () => number = Date.now,
  ) {
    if (entriesMax < 1) throw new RangeError('entriesMax must be positive');
  }

  /** The message waits delayMs before its next delivery. */
  waits(eventId: string, operator: string, delayMs: number): void {
    this.#byEvent.delete(eventId);
    this.#byEvent.set(eventId, { operator, untilMs: this.nowMs() + delayMs + this.graceMs });
    for (const oldest of this.#byEvent.keys()) {
      if (this.#byEvent.size <= this.entriesMax) break;
      this.#byEvent.delete(oldest);
    }
  }

  /** Sent, dropped or failed: no longer waiting. */
  done(eventId: string): void {
    this.#byEvent.delete(eventId);
  }

  /** Messages waiting now, per operator. */
  counts(): Map<string, number> {
    const now = this.nowMs();
    const counts = new Map<string, number>();
    for (const [eventId, entry] of this.#byEvent) {
      if (entry.untilMs <= now) {
        this.#byEvent.delete(eventId);
        continue;
      }
      counts.set(entry.operator, (counts.get(entry.operator) ?? 0) + 1);
    }
    return counts;
  }
}
