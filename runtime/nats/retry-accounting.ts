// How a consumer counts a message's failed attempts and picks the delay before its next delivery.
// A consumer whose spec allows waits (waitsUnbounded) naks a message whose handler answers
// RetryLaterError as often as it takes, and counts only the other failures toward deliveriesMax.
import type { Logger } from '../log.js';

/**
 * Messages whose failures a consumer with waits counts (FailureCounts); the oldest entry goes first.
 * An entry lives until its message is acked or dead-lettered here; one that went to another replica
 * stays until pushed out. About 50 bytes each.
 */
export const FAILURE_COUNTS_MAX = 10_000;

/**
 * The failed attempts of each message, for a consumer whose JetStream delivery count also counts
 * waits (ConsumerSpec.waitsUnbounded). In memory, per process: a message redelivered to another
 * replica, or after a restart, starts again from 0 there, so a message failing for real gets at most
 * deliveriesMax attempts per replica it lands on before its dead letter; one that fails every time
 * reaches it within one process.
 */
export class FailureCounts {
  readonly #bySeq = new Map<number, number>();
  constructor(readonly entriesMax: number) {}

  get size(): number {
    return this.#bySeq.size;
  }

  /** Records one more failure of the message; answers how many it has had here, this one included. */
  failed(streamSequence: number): number {
    const failures = (this.#bySeq.get(streamSequence) ?? 0) + 1;
    this.#bySeq.delete(streamSequence);
    this.#bySeq.set(streamSequence, failures);
    for (const oldest of this.#bySeq.keys()) {
      if (this.#bySeq.size <= this.entriesMax) break;
      this.#bySeq.delete(oldest);
    }
    return failures;
  }

  forget(streamSequence: number): void {
    this.#bySeq.delete(streamSequence);
  }
}

export function retryDelayMs(retryDelaysMs: readonly number[], deliveryCount: number): number {
  const index = Math.min(Math.max(deliveryCount - 1, 0), retryDelaysMs.length - 1);
  return retryDelaysMs[index] ?? 1_000;
}

/** Whether the live consumer lets messages wait without bound (max_deliver -1); logs when it does not. */
export async function waitsAllowed(
  consumer: { info(): Promise<{ config: { max_deliver?: number } }> }, log: Logger, name: string,
): Promise<boolean> {
  const maxDeliver = (await consumer.info()).config.max_deliver ?? -1;
  if (maxDeliver <= 0) return true;
  log.warn({ consumer: name, maxDeliver }, 'consumer still has a max_deliver (made by an older release and not provisioned since): '
    + 'its messages\' waits count as failures until `dialpay provision` lifts it');
  return false;
}
