// One pulled message, from bytes to its end: decoded (with a heartbeat while its handler runs), handed
// to the handler, then acked, nak'd for a retry or a wait, or dead-lettered.
import type { JsMsg } from '@nats-io/jetstream';
import type { EventMessage } from './events.js';
import { PermanentHandlerError, RetryLaterError, UndecodableMessageError } from './errors.js';
import type { Logger } from '../log.js';
import type { ConsumerOptions, HandlerContext } from './consume.js';
import { publishDeadLetter } from './dead-letter.js';
import { eraseMessage, settleHandled } from './erase-handled.js';
import { retryDelayMs, type FailureCounts } from './retry-accounting.js';

/** How many ack waits a handler may keep a message with working() before it is given up to redelivery. */
const WORKING_ACK_WAITS_MAX = 10;

/** A decoded message whose handler may run; its heartbeat runs until it is settled. */
export interface Taken<M> {
  readonly msg: JsMsg;
  readonly message: M;
  readonly context: HandlerContext;
  readonly stopHeartbeat: () => void;
}

/**
 * A handler may legitimately run longer than ack_wait (a long SMS with retries): tell the server it
 * is still being worked on, so it is not handed to another replica meanwhile. Bounded: a hung handler
 * stops heartbeating after WORKING_ACK_WAITS_MAX ack waits and the message goes to another replica
 * (handlers are idempotent, so a late finish does no harm). Answers the function that stops it.
 */
function startHeartbeat(msg: JsMsg, ackWaitMs: number): () => void {
  const beatMs = Math.max(1_000, Math.floor(ackWaitMs / 2));
  let beats = 0;
  const heartbeat = setInterval(() => {
    if (++beats > WORKING_ACK_WAITS_MAX * 2) clearInterval(heartbeat);
    else msg.working();
  }, beatMs);
  return () => clearInterval(heartbeat);
}

/** What one consumer does with each message it pulls. */
export class MessageSettler<M extends EventMessage> {
  readonly #options: ConsumerOptions<M>;
  readonly #name: string;
  readonly #consumerLog: Logger;
  readonly #eraseHandled: boolean;
  /** Set on a consumer with waits: it counts failures itself, its delivery count also counting waits. */
  readonly #failureCounts: FailureCounts | null;

  constructor(options: ConsumerOptions<M>, eraseHandled: boolean, failureCounts: FailureCounts | null, consumerLog: Logger) {
    this.#options = options;
    this.#name = options.spec.durableName;
    this.#eraseHandled = eraseHandled;
    this.#failureCounts = failureCounts;
    this.#consumerLog = consumerLog;
  }

  /** Decodes a message and starts its heartbeat; an error for bytes that do not decode or break the event's contract. */
  take(msg: JsMsg): Taken<M> | UndecodableMessageError {
    const { event, log, metrics, spec } = this.#options;
    metrics.queueWaitSeconds.observe({ consumer: this.#name }, Math.max(0, Date.now() - msg.info.timestampNanos / 1e6) / 1000);
    let decoded: M;
    try {
      decoded = event.type.decode(msg.data);
      if (!decoded.envelope?.eventId) throw new TypeError('envelope.eventId is missing');
      // An enum value this build does not know, or UNSPECIFIED where one is required: not handled, not retried.
      event.validate?.(decoded);
    } catch (cause) {
      return new UndecodableMessageError(msg.subject, msg.seq, { cause });
    }
    const eventLog = log.child({ consumer: this.#name, eventId: decoded.envelope.eventId,
      paymentId: decoded.envelope.paymentId || undefined });
    return {
      msg,
      message: decoded,
      context: { subject: msg.subject, streamSequence: msg.seq, deliveryCount: msg.info.deliveryCount, log: eventLog },
      stopHeartbeat: startHeartbeat(msg, spec.ackWaitMs),
    };
  }

  async runHandler(t: Taken<M>): Promise<void> {
    const started = performance.now();
    try {
      await this.#options.handler(t.message, t.context);
    } finally {
      this.#options.metrics.handlerSeconds.observe({ consumer: this.#name }, (performance.now() - started) / 1000);
    }
  }

  async deadLetterUndecodable(msg: JsMsg, err: UndecodableMessageError): Promise<void> {
    this.#options.log.error({ err, consumer: this.#name }, 'undecodable message, dead-lettering');
    // Plain term(): nats-server 2.9 (Debian 12) ignores a term reason; the reason is in the DLQ headers.
    if (await publishDeadLetter(this.#options, msg, err.message)) await this.#terminate(msg);
    this.#options.metrics.handled.inc({ consumer: this.#name, outcome: 'dead_lettered' });
  }

  /**
   * Acks after success; naks with the retry delay, or dead-letters on the last delivery or a
   * permanent error; on a consumer with waits, naks a RetryLaterError with its delay, uncounted.
   */
  async settle(t: Taken<M>, result: PromiseSettledResult<void>): Promise<void> {
    t.stopHeartbeat();
    if (result.status === 'rejected') return this.#settleFailed(t, result.reason);
    const { msg } = t;
    this.#failureCounts?.forget(msg.seq);
    // Not the handler's failure: an ack that fails must not nak or dead-letter.
    await settleHandled(msg, this.#eraseHandled, this.#options.publishTimeoutMs, () => eraseMessage(this.#options, msg), this.#consumerLog);
    this.#options.metrics.handled.inc({ consumer: this.#name, outcome: 'acked' });
  }

  async handleOne(msg: JsMsg): Promise<void> {
    const taken = this.take(msg);
    if (taken instanceof UndecodableMessageError) return this.deadLetterUndecodable(msg, taken);
    let result: PromiseSettledResult<void>;
    try {
      await this.runHandler(taken);
      result = { status: 'fulfilled', value: undefined };
    } catch (reason) {
      result = { status: 'rejected', reason };
    }
    await this.settle(taken, result);
  }

  async #settleFailed({ msg, context }: Taken<M>, err: unknown): Promise<void> {
    const { metrics, spec } = this.#options;
    const failureCounts = this.#failureCounts;
    if (failureCounts && err instanceof RetryLaterError) {
      // Not a failure: debug only, an outage would write a line per message per wait.
      context.log.debug({ reason: err.message, deliveryCount: context.deliveryCount, delayMs: err.delayMs },
        'handler waits; delivered again later');
      msg.nak(Math.max(1, Math.round(err.delayMs)));
      metrics.handled.inc({ consumer: this.#name, outcome: 'waited' });
      return;
    }
    const permanent = err instanceof PermanentHandlerError;
    // Attempts that failed: JetStream's count, unless its deliveries include waits.
    const attempts = failureCounts ? failureCounts.failed(msg.seq) : context.deliveryCount;
    if (permanent || attempts >= spec.deliveriesMax) {
      context.log.error({ err, deliveryCount: context.deliveryCount, attempts }, 'handler failed for the last time, dead-lettering');
      if (await publishDeadLetter(this.#options, msg, (err as Error)?.message ?? String(err))) await this.#terminate(msg);
      failureCounts?.forget(msg.seq);
      metrics.handled.inc({ consumer: this.#name, outcome: 'dead_lettered' });
    } else {
      const delayMs = retryDelayMs(this.#options.retryDelaysMs, attempts);
      context.log.warn({ err, deliveryCount: context.deliveryCount, attempts, delayMs }, 'handler failed, will retry');
      msg.nak(delayMs);
      metrics.handled.inc({ consumer: this.#name, outcome: 'retried' });
    }
  }

  async #terminate(msg: JsMsg): Promise<void> {
    msg.term();
    // The dead letter holds what is kept (masked where it carries a secret); the original goes.
    if (this.#eraseHandled) await eraseMessage(this.#options, msg);
  }
}
