// The dead-letter stream, read and replayed by a person: `dialpay dlq list`
// says what is there (per consumer, with the last error), and `dialpay dlq
// replay --consumer NAME` puts a consumer's dead letters back on their
// original subject once the cause is fixed. Each goes back with a fresh
// message id (the stream's duplicate window would drop the old one) and the
// same bytes, so the event id inside is unchanged and every handler, being
// idempotent on its ids, drops what it had already done. Replayed messages
// leave the DLQ.
import type { NatsHandle } from './connect.js';
import { DLQ_STREAM, DLQ_SUBJECT_PREFIX } from './topology.js';

/** Dead letters handed out in one run (replay: run again for more); the scan stops there and says so. */
const LETTERS_MAX = 100_000;
/** Reads in flight at once while scanning the DLQ. */
const READ_CONCURRENCY = 64;

export interface DeadLetter {
  readonly dlqSequence: number;
  /** The durable consumer that gave up on it. */
  readonly consumer: string;
  readonly originalSubject: string;
  readonly error: string;
  readonly deliveries: number;
  readonly data: Uint8Array;
}

export interface DeadLetterSummary {
  readonly consumer: string;
  readonly count: number;
  readonly lastError: string;
  /** More letters than one scan hands out: the counts are a floor. */
  readonly truncated: boolean;
}

/**
 * Every dead letter in the DLQ, oldest first, optionally of one consumer only: at most LETTERS_MAX
 * of them (then `truncated` is set on the options object), over a stream the DLQ's own limits bound.
 */
export async function* deadLetters(nats: NatsHandle, options: { consumer?: string; truncated?: boolean } = {}): AsyncGenerator<DeadLetter> {
  const { state } = await nats.jsm.streams.info(DLQ_STREAM);
  const last = state.last_seq;
  let handed = 0;
  for (let from = state.first_seq; from <= last; from += READ_CONCURRENCY) {
    const seqs = Array.from({ length: Math.min(READ_CONCURRENCY, last - from + 1) }, (_, i) => from + i);
    // A sequence that is gone (replayed, or aged out) reads as null.
    const messages = await Promise.all(seqs.map((seq) => nats.jsm.streams.getMessage(DLQ_STREAM, { seq }).catch(() => null)));
    for (const msg of messages) {
      if (!msg || !msg.subject.startsWith(`${DLQ_SUBJECT_PREFIX}.`)) continue;
      const consumer = msg.header?.get('Dialpay-Consumer') || msg.subject.split('.').at(-1) || '';
      if (options.consumer && consumer !== options.consumer) continue;
      if (handed >= LETTERS_MAX) {
        options.truncated = true;
        return;
      }
      handed++;
      yield {
        dlqSequence: msg.seq,
        consumer,
        originalSubject: msg.header?.get('Dialpay-Original-Subject') ?? '',
        error: msg.header?.get('Dialpay-Error') ?? '',
        deliveries: Number(msg.header?.get('Dialpay-Deliveries') ?? 0),
        data: msg.data,
      };
    }
  }
}

/** How many dead letters each consumer has, with the newest error. */
export async function summariseDeadLetters(nats: NatsHandle): Promise<DeadLetterSummary[]> {
  const byConsumer = new Map<string, { count: number; lastError: string }>();
  const scan: { truncated?: boolean } = {};
  for await (const letter of deadLetters(nats, scan)) {
    const entry = byConsumer.get(letter.consumer) ?? { count: 0, lastError: '' };
    entry.count++;
    entry.lastError = letter.error;
    byConsumer.set(letter.consumer, entry);
  }
  return [...byConsumer].map(([consumer, e]) => ({ consumer, ...e, truncated: scan.truncated === true }))
    .sort((a, b) => a.consumer.localeCompare(b.consumer));
}

/**
 * Sends a consumer's dead letters back to their original subject and removes them from the DLQ.
 * `accept` picks which (the webhook replay filters by merchant); a letter with no original
 * subject (an older producer) is left where it is.
 */
export async function replayDeadLetters(
  nats: NatsHandle, options: { consumer: string; timeoutMs: number; accept?: (letter: DeadLetter) => boolean },
): Promise<number> {
  let replayed = 0;
  for await (const letter of deadLetters(nats, { consumer: options.consumer })) {
    if (letter.originalSubject === '' || letter.originalSubject.startsWith(`${DLQ_SUBJECT_PREFIX}.`)) continue;
    if (options.accept && !options.accept(letter)) continue;
    await nats.js.publish(letter.originalSubject, letter.data,
      { msgID: `replay-${DLQ_STREAM}-${letter.dlqSequence}`, timeout: options.timeoutMs });
    await nats.jsm.streams.deleteMessage(DLQ_STREAM, letter.dlqSequence);
    replayed++;
  }
  return replayed;
}
