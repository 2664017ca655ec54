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
// The parts: settle.ts (one message, decode to ack), dead-letter.ts, erase-handled.ts,
// retry-accounting.ts (failures and delays), consume-batch.ts (the batch runner).
import type { Consumer, JsMsg } from '@nats-io/jetstream';
import type { NatsHandle } from './connect.js';
import type { ConsumerSpec } from './topology.js';
import type { EventDef, EventMessage } from './events.js';
import type { Logger } from '../log.js';
import { Counter, Gauge, Histogram, LATENCY_BUCKETS_SECONDS, type Registry } from '../metrics.js';
import { FAILURE_COUNTS_MAX, FailureCounts, waitsAllowed } from './retry-accounting.js';
import { liveDeleteAfterAck, purgeHandled } from './erase-handled.js';
import { MessageSettler } from './settle.js';
import { BatchedHandling } from './consume-batch.js';

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
      help: 'Messages taken from a durable consumer, by outcome (acked, retried, dead_lettered; '
        + 'waited: nak\'d to wait for something outside, an SMSC bind, not a failure).',
      labelNames: ['consumer', 'outcome'],
      registers: [registry],
    });
    this.erased = new Counter({
      name: 'dialpay_nats_messages_erased_total',
      help: 'Handled messages a consumer deleted (erased) from a stream that should be a work queue but was made with limits retention, '
        + 'by outcome (erased, failed: left until max_age).',
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
      help: 'Time from a message being stored in its stream to this consumer taking it '
        + '(a redelivery counts from the first store, retry delays included).',
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
      help: 'Messages in the stream not yet delivered to this durable consumer (num_pending), read at scrape time. '
        + 'Every replica reports the same shared consumer: aggregate with max, not sum.',
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

/** Messages asked for in one pull; also bounded by free handler slots. */
const FETCH_BATCH_MAX = 256;
/** How long one pull waits for messages; bounds how long stop() waits for the loop. */
const FETCH_EXPIRES_MS = 2_000;
const FETCH_ERROR_BACKOFF_MS_MIN = 100;
const FETCH_ERROR_BACKOFF_MS_MAX = 5_000;

/** Handler slots in use, and the wake-up of whoever waits for one to free (the pull loop, or stop()). */
class HandlerSlots {
  inFlight = 0;
  #wake: (() => void) | null = null;

  freed(): Promise<void> {
    return new Promise((resolve) => (this.#wake = resolve));
  }

  release(): void {
    this.inFlight--;
    this.wakeWaiter();
  }

  wakeWaiter(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }
}

interface PullLoop {
  readonly consumer: Consumer;
  readonly name: string;
  readonly log: Logger;
  readonly inFlightMax: number;
  readonly slots: HandlerSlots;
  /** `last`: nothing else is coming from this pull now. */
  readonly handle: (msg: JsMsg, last: boolean) => Promise<void>;
  readonly batched: { flush(): void } | null;
  readonly stopping: () => boolean;
}

/** Fetches up to `requested` messages and starts handling each; each frees its slot once settled. */
async function pullOnce(loop: PullLoop, requested: number): Promise<void> {
  const { slots, log, name } = loop;
  const fetched = await loop.consumer.fetch({ max_messages: requested, expires: FETCH_EXPIRES_MS });
  let received = 0;
  for await (const msg of fetched) {
    slots.inFlight++;
    received++;
    // info.pending: what the stream still holds for this consumer beyond this message.
    void loop.handle(msg, received >= requested || msg.info.pending === 0)
      // ack/nak after the connection closed (a handler that outlived stop()) throws:
      // the message is redelivered anyway, so log it rather than crash the process.
      .catch((err: unknown) => log.warn({ err, consumer: name }, 'could not settle a message; it will be redelivered'))
      .finally(() => slots.release());
  }
}

// Pull only as many messages as there are free handler slots, so everything
// pulled is handled: at stop nothing is left stranded until ack_wait.
async function runPullLoop(loop: PullLoop): Promise<void> {
  const { slots, batched } = loop;
  let errorBackoffMs = FETCH_ERROR_BACKOFF_MS_MIN;
  while (!loop.stopping()) {
    const room = loop.inFlightMax - slots.inFlight;
    if (room <= 0) {
      await slots.freed();
      // A batch settles its messages together: let them all free their slots, so the next pull
      // is one batch's worth rather than the one slot that woke the loop.
      if (batched) await new Promise((resolve) => setImmediate(resolve));
      continue;
    }
    try {
      await pullOnce(loop, Math.min(room, FETCH_BATCH_MAX));
      batched?.flush();
      errorBackoffMs = FETCH_ERROR_BACKOFF_MS_MIN;
    } catch (err) {
      batched?.flush();
      if (loop.stopping()) break;
      loop.log.warn({ err, consumer: loop.name, retryInMs: errorBackoffMs }, 'fetch failed; retrying');
      await new Promise((r) => setTimeout(r, errorBackoffMs));
      errorBackoffMs = Math.min(errorBackoffMs * 2, FETCH_ERROR_BACKOFF_MS_MAX);
    }
  }
}

/** Readies a consumer's metric series and, where it erases what it handles, erases what it handled before. */
async function prepareConsumer<M extends EventMessage>(
  options: ConsumerOptions<M>, consumer: Consumer, eraseHandled: boolean, waits: boolean,
): Promise<void> {
  const { nats, spec, log, metrics } = options;
  const name = spec.durableName;
  // Series at 0 from the start: increase() cannot see a counter's first step from absent to 1.
  for (const outcome of ['acked', 'retried', 'dead_lettered', ...(waits ? ['waited'] : [])]) {
    metrics.handled.inc({ consumer: name, outcome }, 0);
  }
  if (eraseHandled) for (const outcome of ['erased', 'failed']) metrics.erased.inc({ consumer: name, outcome }, 0);
  if (eraseHandled) await purgeHandled(nats, spec, async () => (await consumer.info()).ack_floor.stream_seq, log, metrics);
}

export async function startConsumer<M extends EventMessage>(options: ConsumerOptions<M>): Promise<RunningConsumer> {
  const { nats, spec, log, metrics } = options;
  if (options.inFlightMax < 1) throw new RangeError('inFlightMax must be at least 1');
  const name = spec.durableName;
  const consumer = await nats.js.consumers.get(spec.stream, spec.durableName);
  const eraseHandled = await liveDeleteAfterAck(nats, spec, log);
  const untrackPending = metrics.track(name, async () => (await consumer.info()).num_pending);
  // Waits are deliveries too: such a consumer counts its messages' real failures itself. Only when
  // the live consumer has no max_deliver (provisioned by this release): with one, the server would
  // stop delivering a message that waited that often, so waits count as failures as before.
  const waits = spec.waitsUnbounded === true && (await waitsAllowed(consumer, log, name));
  await prepareConsumer(options, consumer, eraseHandled, waits);

  const consumerLog = log.child({ consumer: name });
  const settler = new MessageSettler(options, eraseHandled, waits ? new FailureCounts(FAILURE_COUNTS_MAX) : null, consumerLog);
  const batched = options.batch ? new BatchedHandling(settler, options.batch, metrics, name, consumerLog) : null;
  const slots = new HandlerSlots();
  let stopping = false;
  const loop = runPullLoop({
    consumer, name, log, inFlightMax: options.inFlightMax, slots, batched, stopping: () => stopping,
    handle: (msg, last) => (batched ? batched.handle(msg, last) : settler.handleOne(msg)),
  });

  return {
    name,
    inFlight: () => slots.inFlight,
    stop: async (timeoutMs: number) => {
      stopping = true;
      untrackPending();
      slots.wakeWaiter();
      await loop.catch((err: unknown) => log.error({ err, consumer: name }, 'consumer loop ended with an error'));
      batched?.flush();
      const deadline = Date.now() + timeoutMs;
      while (slots.inFlight > 0 && Date.now() < deadline) {
        await Promise.race([slots.freed(), new Promise((r) => setTimeout(r, 50))]);
      }
      if (slots.inFlight > 0) {
        log.warn({ consumer: name, inFlight: slots.inFlight }, 'stopped with handlers still running; they will be redelivered');
      }
    },
  };
}
