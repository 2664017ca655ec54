// Durable pull consumers with explicit acks. A handler receives a decoded
// message; success acks, failure naks with the configured delay, and the last
// allowed delivery (or a permanent error, or bytes that do not decode) goes to
// the dead-letter stream before the message is terminated. Nothing is dropped
// silently. At most inFlightMax handlers run at once per consumer. A consumer of
// a stream that should be a work queue but is not erases what it has handled, and at start what it
// handled before (at or below its ack floor). With the batch option, messages
// that arrive together are handed to one run (batcher.ts) and each is settled
// by its own result. A consumer whose spec allows waits (waitsUnbounded) naks a
// message whose handler answers RetryLaterError with the handler's delay, as
// often as it takes, and counts only the other failures toward deliveriesMax.
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { JsMsg } from '@nats-io/jetstream';
import type { NatsHandle } from './connect.js';
import type { ConsumerSpec } from './topology.js';
import { DLQ_SUBJECT_PREFIX, STREAMS, deleteAfterAckFor } from './topology.js';
import type { EventDef, EventMessage } from './events.js';
import { PermanentHandlerError, RetryLaterError, UndecodableMessageError } from './errors.js';
import type { Logger } from '../log.js';
import { Counter, Gauge, Histogram, LATENCY_BUCKETS_SECONDS, type Registry } from '../metrics.js';
import { Batcher } from './batcher.js';

export interface HandlerContext {
  readonly subject: string;
  readonly streamSequence: number;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
  readonly log: Logger;
}

export type EventHandler<M> = (message: M, context: HandlerContext) => Promise<void>;

/** One message of a batch: `handle` runs the consumer's handler on it. */
export interface BatchItem<M> {
  readonly message: M;
  readonly context: HandlerContext;
  readonly handle: () => Promise<void>;
}

/** Handles a group of messages; one result per item, in order: each message is acked, retried or dead-lettered by its own. */
export type BatchRun<M> = (items: readonly BatchItem<M>[]) => Promise<PromiseSettledResult<void>[]>;

export interface BatchOptions<M> {
  /** Messages handed to one run at most. */
  readonly sizeMax: number;
  /** How long the first message of a group waits for others; a group goes sooner when nothing else is coming. */
  readonly lingerMs: number;
  /** Runs at once; what arrives while they run waits and forms the next, bigger group. Unset: no bound but inFlightMax. */
  readonly runsInFlightMax?: number;
  readonly run: BatchRun<M>;
}

export interface ConsumerOptions<M extends EventMessage> {
  readonly nats: NatsHandle;
  readonly spec: ConsumerSpec;
  readonly event: EventDef<M>;
  readonly handler: EventHandler<M>;
  readonly log: Logger;
  readonly metrics: ConsumerMetrics;
  readonly inFlightMax: number;
  /** Delay before redelivery after the n-th failed attempt; the last value repeats. */
  readonly retryDelaysMs: readonly number[];
  readonly publishTimeoutMs: number;
  /**
   * What the dead-letter stream keeps instead of the message as it came, for messages that carry
   * a secret the 30-day DLQ must not (a one-time code). Must not throw; return the bytes unchanged when unsure.
   */
  readonly deadLetterData?: (data: Uint8Array) => Uint8Array;
  /** Hand messages that arrive together to one run (one transaction) instead of one handler call each. */
  readonly batch?: BatchOptions<M>;
}

export interface RunningConsumer {
  readonly name: string;
  inFlight(): number;
  /** Stops pulling, then lets every pulled message's handler finish, waiting at most timeoutMs. */
  stop(timeoutMs: number): Promise<void>;
}

/** A scrape waits this long for a consumer's info; a slower answer leaves that consumer out of the scrape. */
const PENDING_SAMPLE_TIMEOUT_MS = 1_000;
/** Scrapes closer together than this reuse the last sample, so scrapes cannot multiply requests to the server. */
const PENDING_SAMPLE_INTERVAL_MS = 1_000;

interface PendingSource {
  readonly read: () => Promise<number>;
  /** The request still unanswered from an earlier scrape: reused, so at most one is out per consumer. */
  inFlight: Promise<number> | null;
}

/** Messages per batch run: powers of two up to the largest batchSizeMax worth having. */
const BATCH_MESSAGES_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

export class ConsumerMetrics {
  readonly handled: Counter<'consumer' | 'outcome'>;
  readonly erased: Counter<'consumer' | 'outcome'>;
  readonly handlerSeconds: Histogram<'consumer'>;
  readonly queueWaitSeconds: Histogram<'consumer'>;
  readonly batchSeconds: Histogram<'consumer'>;
  readonly batchMessages: Histogram<'consumer'>;
  readonly pending: Gauge<'consumer'>;
  readonly #sources = new Map<string, PendingSource>();
  #sampledAtMs = 0;
  constructor(registry: Registry) {
    this.handled = new Counter({
      name: 'dialpay_nats_messages_handled_total',
      help: 'Messages taken from a durable consumer, by outcome (acked, retried, dead_lettered; waited: nak\'d to wait for something outside, an SMSC bind, not a failure).',
      labelNames: ['consumer', 'outcome'],
      registers: [registry],
    });
    this.erased = new Counter({
      name: 'dialpay_nats_messages_erased_total',
      help: 'Handled messages a consumer deleted (erased) from a stream that should be a work queue but was made with limits retention, by outcome (erased, failed: left until max_age).',
      labelNames: ['consumer', 'outcome'],
      registers: [registry],
    });
    this.handlerSeconds = new Histogram({
      name: 'dialpay_nats_handler_duration_seconds',
      help: 'Time a handler took for one message (in a batch: its part of the shared transaction, without the commit).',
      labelNames: ['consumer'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers: [registry],
    });
    this.queueWaitSeconds = new Histogram({
      name: 'dialpay_nats_queue_wait_seconds',
      help: 'Time from a message being stored in its stream to this consumer taking it (a redelivery counts from the first store, retry delays included).',
      labelNames: ['consumer'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers: [registry],
    });
    this.batchSeconds = new Histogram({
      name: 'dialpay_nats_batch_duration_seconds',
      help: 'Time one batch run took (batched consumers): every handler, the commit, and any one-by-one fallback.',
      labelNames: ['consumer'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers: [registry],
    });
    this.batchMessages = new Histogram({
      name: 'dialpay_nats_batch_messages',
      help: 'Messages handed to one batch run (batched consumers).',
      labelNames: ['consumer'],
      buckets: BATCH_MESSAGES_BUCKETS,
      registers: [registry],
    });
    // Read from JetStream when scraped: a counter kept by the handlers would stand still exactly
    // when lag matters (every handler slot stuck, nothing fetched).
    this.pending = new Gauge({
      name: 'dialpay_nats_consumer_pending_messages',
      help: 'Messages in the stream not yet delivered to this durable consumer (num_pending), read at scrape time. Every replica reports the same shared consumer: aggregate with max, not sum.',
      labelNames: ['consumer'],
      registers: [registry],
      collect: () => this.#samplePending(),
    });
  }

  /** Reports the consumer's num_pending on each scrape until the returned function is called. */
  track(consumer: string, numPending: () => Promise<number>): () => void {
    const source: PendingSource = { read: numPending, inFlight: null };
    this.#sources.set(consumer, source);
    return () => {
      if (this.#sources.get(consumer) !== source) return;
      this.#sources.delete(consumer);
      this.pending.remove({ consumer });
    };
  }

  async #samplePending(): Promise<void> {
    const now = Date.now();
    if (now - this.#sampledAtMs < PENDING_SAMPLE_INTERVAL_MS) return;
    this.#sampledAtMs = now;
    await Promise.all([...this.#sources].map(async ([consumer, source]) => {
      source.inFlight ??= source.read().finally(() => (source.inFlight = null));
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), PENDING_SAMPLE_TIMEOUT_MS)));
      const value = await Promise.race([source.inFlight.catch(() => null), timedOut]);
      clearTimeout(timer);
      // Unknown (NATS down, slow server): no series rather than a stale number that looks healthy.
      if (value === null || !this.#sources.has(consumer)) this.pending.remove({ consumer });
      else this.pending.set({ consumer }, value);
    }));
  }
}

const ERROR_HEADER_LENGTH_MAX = 256;
/** Messages asked for in one pull; also bounded by free handler slots. */
const FETCH_BATCH_MAX = 256;
/** How long one pull waits for messages; bounds how long stop() waits for the loop. */
const FETCH_EXPIRES_MS = 2_000;
const FETCH_ERROR_BACKOFF_MS_MIN = 100;
const FETCH_ERROR_BACKOFF_MS_MAX = 5_000;
/** How many ack waits a handler may keep a message with working() before it is given up to redelivery. */
const WORKING_ACK_WAITS_MAX = 10;
/**
 * Messages whose failures a consumer with waits counts (FailureCounts); the oldest entry goes first.
 * An entry lives until its message is acked or dead-lettered here; one that went to another replica
 * stays until pushed out. About 50 bytes each.
 */
const FAILURE_COUNTS_MAX = 10_000;

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
async function waitsAllowed(consumer: { info(): Promise<{ config: { max_deliver?: number } }> }, log: Logger, name: string): Promise<boolean> {
  const maxDeliver = (await consumer.info()).config.max_deliver ?? -1;
  if (maxDeliver <= 0) return true;
  log.warn({ consumer: name, maxDeliver }, 'consumer still has a max_deliver (made by an older release and not provisioned since): its messages\' waits count as failures until `dialpay provision` lifts it');
  return false;
}

/**
 * Whether this consumer erases what it handles (deleteAfterAckFor). Asks the server for the stream's
 * retention only for streams declared work queues, so other consumers start as before.
 */
async function liveDeleteAfterAck(nats: NatsHandle, spec: ConsumerSpec, log: Logger): Promise<boolean> {
  const declared = STREAMS.find((s) => s.name === spec.stream);
  if (spec.deleteAfterAck === undefined && declared?.retention !== 'workqueue') return false;
  const liveRetention = spec.deleteAfterAck === undefined ? (await nats.jsm.streams.info(spec.stream)).config.retention : undefined;
  const erase = deleteAfterAckFor(spec, declared, liveRetention);
  if (erase) log.warn({ consumer: spec.durableName, stream: spec.stream, retention: liveRetention ?? 'as configured' }, 'stream is not a work queue: this consumer erases each message once handled (see deploy/README.md, Upgrading)');
  return erase;
}

/**
 * Erases what this consumer handled before it erased each message (a release without erasing, or
 * its own erases that failed): everything at or below its ack floor, all acked or terminated, so
 * nothing another delivery needs. Purge takes "up to but not including" seq. A failure is logged
 * and counted; the next start tries again, and max_age removes it meanwhile.
 */
async function purgeHandled(nats: NatsHandle, spec: ConsumerSpec, readAckFloor: () => Promise<number>, log: Logger, metrics: ConsumerMetrics): Promise<void> {
  let ackFloorStreamSeq = 0;
  try {
    ackFloorStreamSeq = await readAckFloor();
    if (ackFloorStreamSeq < 1) return;
    const { purged } = await nats.jsm.streams.purge(spec.stream, { filter: spec.filterSubject, seq: ackFloorStreamSeq + 1 });
    metrics.erased.inc({ consumer: spec.durableName, outcome: 'erased' }, purged);
    if (purged > 0) log.info({ consumer: spec.durableName, stream: spec.stream, purged, ackFloorStreamSeq }, 'erased messages handled before this consumer erased what it handles');
  } catch (err) {
    log.warn({ err, consumer: spec.durableName, stream: spec.stream, ackFloorStreamSeq }, 'could not erase messages handled earlier; they stay until max_age');
    metrics.erased.inc({ consumer: spec.durableName, outcome: 'failed' });
  }
}

/**
 * After a handler succeeded: ack, and where this consumer erases, erase whatever the ack's
 * confirmation says. The handler's effect is durable by then, so a confirmation lost on the way
 * back (the ack reached the server, its reply did not) must not leave the message: the server will
 * not redeliver an acked message, so nothing would erase it later. Erased after the ack attempt, so
 * an ack that did not arrive sees the message gone, not redelivered (the handler already did its work).
 */
export async function settleHandled(msg: Pick<JsMsg, 'ack' | 'ackAck' | 'seq'>, eraseHandled: boolean, ackTimeoutMs: number, erase: () => Promise<void>, log: Logger): Promise<void> {
  if (!eraseHandled) {
    msg.ack();
    return;
  }
  await msg.ackAck({ timeout: ackTimeoutMs }).catch((err: unknown) => {
    log.warn({ err, streamSequence: msg.seq }, 'ack not confirmed; erasing the handled message anyway');
  });
  await erase();
}

export async function startConsumer<M extends EventMessage>(options: ConsumerOptions<M>): Promise<RunningConsumer> {
  const { nats, spec, event, handler, log, metrics } = options;
  if (options.inFlightMax < 1) throw new RangeError('inFlightMax must be at least 1');
  const name = spec.durableName;
  const consumer = await nats.js.consumers.get(spec.stream, spec.durableName);
  const eraseHandled = await liveDeleteAfterAck(nats, spec, log);
  const untrackPending = metrics.track(name, async () => (await consumer.info()).num_pending);
  // Series at 0 from the start: increase() cannot see a counter's first step from absent to 1.
  // Waits are deliveries too: such a consumer counts its messages' real failures itself. Only when
  // the live consumer has no max_deliver (provisioned by this release): with one, the server would
  // stop delivering a message that waited that often, so waits count as failures as before.
  const waits = spec.waitsUnbounded === true && (await waitsAllowed(consumer, log, name));
  for (const outcome of ['acked', 'retried', 'dead_lettered', ...(waits ? ['waited'] : [])]) metrics.handled.inc({ consumer: name, outcome }, 0);
  const failureCounts = waits ? new FailureCounts(FAILURE_COUNTS_MAX) : null;
  if (eraseHandled) for (const outcome of ['erased', 'failed']) metrics.erased.inc({ consumer: name, outcome }, 0);
  if (eraseHandled) await purgeHandled(nats, spec, async () => (await consumer.info()).ack_floor.stream_seq, log, metrics);

  const consumerLog = log.child({ consumer: name });
  let stopping = false;
  let inFlight = 0;
  let wake: (() => void) | null = null;
  const slotFreed = (): Promise<void> => new Promise((resolve) => (wake = resolve));

  const deadLetter = async (msg: JsMsg, reason: string): Promise<boolean> => {
    const h = natsHeaders();
    h.set('Dialpay-Original-Subject', msg.subject);
    h.set('Dialpay-Original-Stream', spec.stream);
    h.set('Dialpay-Original-Sequence', String(msg.seq));
    h.set('Dialpay-Consumer', name);
    h.set('Dialpay-Deliveries', String(msg.info.deliveryCount));
    h.set('Dialpay-Error', reason.replace(/[\r\n]+/g, ' ').slice(0, ERROR_HEADER_LENGTH_MAX));
    try {
      await nats.js.publish(`${DLQ_SUBJECT_PREFIX}.${spec.stream}.${name}`, options.deadLetterData ? options.deadLetterData(msg.data) : msg.data, {
        msgID: `dlq-${spec.stream}-${name}-${msg.seq}`,
        timeout: options.publishTimeoutMs,
        headers: h,
      });
      return true;
    } catch (err) {
      // Leave it unacked: it stays in its stream and the max-deliveries advisory names it.
      log.error({ err, consumer: name, streamSequence: msg.seq }, 'dead-letter publish failed; message left in its stream');
      return false;
    }
  };

  // Bounded by the JetStream API timeout (nats.publishTimeoutMs) and, being awaited inside a
  // handler slot, by inFlightMax. A failure leaves the message until max_age, as without the option.
  const erase = async (msg: JsMsg): Promise<void> => {
    try {
      await nats.jsm.streams.deleteMessage(spec.stream, msg.seq, true);
      metrics.erased.inc({ consumer: name, outcome: 'erased' });
    } catch (err) {
      log.warn({ err, consumer: name, streamSequence: msg.seq }, 'could not erase a handled message from its stream; it stays until max_age');
      metrics.erased.inc({ consumer: name, outcome: 'failed' });
    }
  };
  const terminate = async (msg: JsMsg): Promise<void> => {
    msg.term();
    // The dead letter holds what is kept (masked where it carries a secret); the original goes.
    if (eraseHandled) await erase(msg);
  };

  interface Taken {
    readonly msg: JsMsg;
    readonly message: M;
    readonly context: HandlerContext;
    readonly stopHeartbeat: () => void;
  }

  /** Decodes a message and starts its heartbeat; an error for bytes that do not decode or break the event's contract. */
  const take = (msg: JsMsg): Taken | UndecodableMessageError => {
    metrics.queueWaitSeconds.observe({ consumer: name }, Math.max(0, Date.now() - msg.info.timestampNanos / 1e6) / 1000);
    let decoded: M;
    try {
      decoded = event.type.decode(msg.data);
      if (!decoded.envelope?.eventId) throw new TypeError('envelope.eventId is missing');
      // An enum value this build does not know, or UNSPECIFIED where one is required: not handled, not retried.
      event.validate?.(decoded);
    } catch (cause) {
      return new UndecodableMessageError(msg.subject, msg.seq, { cause });
    }
    const eventLog = log.child({ consumer: name, eventId: decoded.envelope.eventId, paymentId: decoded.envelope.paymentId || undefined });
    // A handler may legitimately run longer than ack_wait (a long SMS with retries): tell the
    // server it is still being worked on, so it is not handed to another replica meanwhile.
    // Bounded: a hung handler stops heartbeating after WORKING_ACK_WAITS_MAX ack waits and the message goes
    // to another replica (handlers are idempotent, so a late finish does no harm).
    const beatMs = Math.max(1_000, Math.floor(spec.ackWaitMs / 2));
    let beats = 0;
    const heartbeat = setInterval(() => {
      if (++beats > WORKING_ACK_WAITS_MAX * 2) clearInterval(heartbeat);
      else msg.working();
    }, beatMs);
    return {
      msg,
      message: decoded,
      context: { subject: msg.subject, streamSequence: msg.seq, deliveryCount: msg.info.deliveryCount, log: eventLog },
      stopHeartbeat: () => clearInterval(heartbeat),
    };
  };

  const deadLetterUndecodable = async (msg: JsMsg, err: UndecodableMessageError): Promise<void> => {
    log.error({ err, consumer: name }, 'undecodable message, dead-lettering');
    // Plain term(): nats-server 2.9 (Debian 12) ignores a term reason; the reason is in the DLQ headers.
    if (await deadLetter(msg, err.message)) await terminate(msg);
    metrics.handled.inc({ consumer: name, outcome: 'dead_lettered' });
  };

  const runHandler = async (t: Taken): Promise<void> => {
    const started = performance.now();
    try {
      await handler(t.message, t.context);
    } finally {
      metrics.handlerSeconds.observe({ consumer: name }, (performance.now() - started) / 1000);
    }
  };

  /**
   * Acks after success; naks with the retry delay, or dead-letters on the last delivery or a
   * permanent error; on a consumer with waits, naks a RetryLaterError with its delay, uncounted.
   */
  const settle = async (t: Taken, result: PromiseSettledResult<void>): Promise<void> => {
    t.stopHeartbeat();
    const { msg, context } = t;
    if (result.status === 'rejected') {
      const err: unknown = result.reason;
      if (failureCounts && err instanceof RetryLaterError) {
        // Not a failure: debug only, an outage would write a line per message per wait.
        context.log.debug({ reason: err.message, deliveryCount: context.deliveryCount, delayMs: err.delayMs }, 'handler waits; delivered again later');
        msg.nak(Math.max(1, Math.round(err.delayMs)));
        metrics.handled.inc({ consumer: name, outcome: 'waited' });
        return;
      }
      const permanent = err instanceof PermanentHandlerError;
      // Attempts that failed: JetStream's count, unless its deliveries include waits.
      const attempts = failureCounts ? failureCounts.failed(msg.seq) : context.deliveryCount;
      if (permanent || attempts >= spec.deliveriesMax) {
        context.log.error({ err, deliveryCount: context.deliveryCount, attempts }, 'handler failed for the last time, dead-lettering');
        if (await deadLetter(msg, (err as Error)?.message ?? String(err))) await terminate(msg);
        failureCounts?.forget(msg.seq);
        metrics.handled.inc({ consumer: name, outcome: 'dead_lettered' });
      } else {
        const delayMs = retryDelayMs(options.retryDelaysMs, attempts);
        context.log.warn({ err, deliveryCount: context.deliveryCount, attempts, delayMs }, 'handler failed, will retry');
        msg.nak(delayMs);
        metrics.handled.inc({ consumer: name, outcome: 'retried' });
      }
      return;
    }
    failureCounts?.forget(msg.seq);
    // Not the handler's failure: an ack that fails must not nak or dead-letter.
    await settleHandled(msg, eraseHandled, options.publishTimeoutMs, () => erase(msg), consumerLog);
    metrics.handled.inc({ consumer: name, outcome: 'acked' });
  };

  const handleOne = async (msg: JsMsg): Promise<void> => {
    const taken = take(msg);
    if (taken instanceof UndecodableMessageError) return deadLetterUndecodable(msg, taken);
    let result: PromiseSettledResult<void>;
    try {
      await runHandler(taken);
      result = { status: 'fulfilled', value: undefined };
    } catch (reason) {
      result = { status: 'rejected', reason };
    }
    await settle(taken, result);
  };

  const batchOptions = options.batch;
  /** A run that throws, or answers for the wrong number of messages, fails every message of its group. */
  const runGroup = async (group: Taken[]): Promise<PromiseSettledResult<void>[]> => {
    const started = performance.now();
    const items: BatchItem<M>[] = group.map((t) => ({ message: t.message, context: t.context, handle: () => runHandler(t) }));
    let results: PromiseSettledResult<void>[];
    try {
      results = await (batchOptions as BatchOptions<M>).run(items);
      if (results.length !== items.length) throw new Error(`the batch run answered ${results.length} results for ${items.length} messages`);
    } catch (err) {
      consumerLog.error({ err, messages: items.length }, 'batch run failed; each of its messages is retried');
      results = items.map(() => ({ status: 'rejected', reason: err }));
    }
    metrics.batchSeconds.observe({ consumer: name }, (performance.now() - started) / 1000);
    metrics.batchMessages.observe({ consumer: name }, items.length);
    return results;
  };
  const batcher = batchOptions ? new Batcher<Taken, PromiseSettledResult<void>>(batchOptions.sizeMax, batchOptions.lingerMs, runGroup, batchOptions.runsInFlightMax ?? Number.POSITIVE_INFINITY) : null;

  /** `last`: nothing else is coming from this pull now, so the open group goes at once. */
  const handleInBatch = async (msg: JsMsg, last: boolean): Promise<void> => {
    const b = batcher as Batcher<Taken, PromiseSettledResult<void>>;
    const taken = take(msg);
    if (taken instanceof UndecodableMessageError) {
      if (last) b.flush();
      return deadLetterUndecodable(msg, taken);
    }
    await settle(taken, await b.submit(taken, last));
  };

  // Pull only as many messages as there are free handler slots, so everything
  // pulled is handled: at stop nothing is left stranded until ack_wait.
  const loop = (async () => {
    let errorBackoffMs = FETCH_ERROR_BACKOFF_MS_MIN;
    while (!stopping) {
      const room = options.inFlightMax - inFlight;
      if (room <= 0) {
        await slotFreed();
        // A batch settles its messages together: let them all free their slots, so the next pull
        // is one batch's worth rather than the one slot that woke the loop.
        if (batcher) await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      try {
        const requested = Math.min(room, FETCH_BATCH_MAX);
        const fetched = await consumer.fetch({ max_messages: requested, expires: FETCH_EXPIRES_MS });
        let received = 0;
        for await (const msg of fetched) {
          inFlight++;
          received++;
          // info.pending: what the stream still holds for this consumer beyond this message.
          const handled = batcher ? handleInBatch(msg, received >= requested || msg.info.pending === 0) : handleOne(msg);
          void handled
            // ack/nak after the connection closed (a handler that outlived stop()) throws:
            // the message is redelivered anyway, so log it rather than crash the process.
            .catch((err: unknown) => log.warn({ err, consumer: name }, 'could not settle a message; it will be redelivered'))
            .finally(() => {
              inFlight--;
              const w = wake;
              wake = null;
              w?.();
            });
        }
        batcher?.flush();
        errorBackoffMs = FETCH_ERROR_BACKOFF_MS_MIN;
      } catch (err) {
        batcher?.flush();
        if (stopping) break;
        log.warn({ err, consumer: name, retryInMs: errorBackoffMs }, 'fetch failed; retrying');
        await new Promise((r) => setTimeout(r, errorBackoffMs));
        errorBackoffMs = Math.min(errorBackoffMs * 2, FETCH_ERROR_BACKOFF_MS_MAX);
      }
    }
  })();

  return {
    name,
    inFlight: () => inFlight,
    stop: async (timeoutMs: number) => {
      stopping = true;
      untrackPending();
      const w = wake;
      wake = null;
      w?.();
      await loop.catch((err: unknown) => log.error({ err, consumer: name }, 'consumer loop ended with an error'));
      batcher?.flush();
      const deadline = Date.now() + timeoutMs;
      while (inFlight > 0 && Date.now() < deadline) {
        await Promise.race([slotFreed(), new Promise((r) => setTimeout(r, 50))]);
      }
      if (inFlight > 0) log.warn({ consumer: name, inFlight }, 'stopped with handlers still running; they will be redelivered');
    },
  };
}
