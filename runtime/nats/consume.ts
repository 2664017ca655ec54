// Durable pull consumers with explicit acks. A handler receives a decoded
// message; success acks, failure naks with the configured delay, and the last
// allowed delivery (or a permanent error, or bytes that do not decode) goes to
// the dead-letter stream before the message is terminated. Nothing is dropped
// silently. At most inFlightMax handlers run at once per consumer. A consumer of
// a stream that should be a work queue but is not erases what it has handled, and at start what it
// handled before (at or below its ack floor).
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { JsMsg } from '@nats-io/jetstream';
import type { NatsHandle } from './connect.js';
import type { ConsumerSpec } from './topology.js';
import { DLQ_SUBJECT_PREFIX, STREAMS, deleteAfterAckFor } from './topology.js';
import type { EventDef, EventMessage } from './events.js';
import { PermanentHandlerError, UndecodableMessageError } from './errors.js';
import type { Logger } from '../log.js';
import { Counter, Gauge, Histogram, LATENCY_BUCKETS_SECONDS, type Registry } from '../metrics.js';

export interface HandlerContext {
  readonly subject: string;
  readonly streamSequence: number;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
  readonly log: Logger;
}

export type EventHandler<M> = (message: M, context: HandlerContext) => Promise<void>;

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

export class ConsumerMetrics {
  readonly handled: Counter<'consumer' | 'outcome'>;
  readonly erased: Counter<'consumer' | 'outcome'>;
  readonly handlerSeconds: Histogram<'consumer'>;
  readonly pending: Gauge<'consumer'>;
  readonly #sources = new Map<string, PendingSource>();
  #sampledAtMs = 0;
  constructor(registry: Registry) {
    this.handled = new Counter({
      name: 'dialpay_nats_messages_handled_total',
      help: 'Messages taken from a durable consumer, by outcome (acked, retried, dead_lettered).',
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
      help: 'Time a handler took for one message.',
      labelNames: ['consumer'],
      buckets: LATENCY_BUCKETS_SECONDS,
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

export function retryDelayMs(retryDelaysMs: readonly number[], deliveryCount: number): number {
  const index = Math.min(Math.max(deliveryCount - 1, 0), retryDelaysMs.length - 1);
  return retryDelaysMs[index] ?? 1_000;
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
  for (const outcome of ['acked', 'retried', 'dead_lettered']) metrics.handled.inc({ consumer: name, outcome }, 0);
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

  const handleOne = async (msg: JsMsg): Promise<void> => {
    const started = performance.now();
    const deliveryCount = msg.info.deliveryCount;
    let decoded: M;
    try {
      decoded = event.type.decode(msg.data);
      if (!decoded.envelope?.eventId) throw new TypeError('envelope.eventId is missing');
    } catch (cause) {
      const err = new UndecodableMessageError(msg.subject, msg.seq, { cause });
      log.error({ err, consumer: name }, 'undecodable message, dead-lettering');
      // Plain term(): nats-server 2.9 (Debian 12) ignores a term reason; the reason is in the DLQ headers.
      if (await deadLetter(msg, err.message)) await terminate(msg);
      metrics.handled.inc({ consumer: name, outcome: 'dead_lettered' });
      return;
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
    try {
      await handler(decoded, { subject: msg.subject, streamSequence: msg.seq, deliveryCount, log: eventLog });
    } catch (err) {
      const permanent = err instanceof PermanentHandlerError;
      if (permanent || deliveryCount >= spec.deliveriesMax) {
        eventLog.error({ err, deliveryCount }, 'handler failed for the last time, dead-lettering');
        if (await deadLetter(msg, (err as Error).message ?? String(err))) await terminate(msg);
        metrics.handled.inc({ consumer: name, outcome: 'dead_lettered' });
      } else {
        const delayMs = retryDelayMs(options.retryDelaysMs, deliveryCount);
        eventLog.warn({ err, deliveryCount, delayMs }, 'handler failed, will retry');
        msg.nak(delayMs);
        metrics.handled.inc({ consumer: name, outcome: 'retried' });
      }
      return;
    } finally {
      clearInterval(heartbeat);
      metrics.handlerSeconds.observe({ consumer: name }, (performance.now() - started) / 1000);
    }
    // Outside the try: an ack that fails must not count as a handler failure (nak, dead letter).
    await settleHandled(msg, eraseHandled, options.publishTimeoutMs, () => erase(msg), consumerLog);
    metrics.handled.inc({ consumer: name, outcome: 'acked' });
  };

  // Pull only as many messages as there are free handler slots, so everything
  // pulled is handled: at stop nothing is left stranded until ack_wait.
  const loop = (async () => {
    let errorBackoffMs = FETCH_ERROR_BACKOFF_MS_MIN;
    while (!stopping) {
      const room = options.inFlightMax - inFlight;
      if (room <= 0) {
        await slotFreed();
        continue;
      }
      try {
        const batch = await consumer.fetch({ max_messages: Math.min(room, FETCH_BATCH_MAX), expires: FETCH_EXPIRES_MS });
        for await (const msg of batch) {
          inFlight++;
          void handleOne(msg)
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
        errorBackoffMs = FETCH_ERROR_BACKOFF_MS_MIN;
      } catch (err) {
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
      const deadline = Date.now() + timeoutMs;
      while (inFlight > 0 && Date.now() < deadline) {
        await Promise.race([slotFreed(), new Promise((r) => setTimeout(r, 50))]);
      }
      if (inFlight > 0) log.warn({ consumer: name, inFlight }, 'stopped with handlers still running; they will be redelivered');
    },
  };
}
