// What every service with a Postgres schema runs besides its handlers: the
// outbox relay and the pruning of its processed-events record.
import type { ComponentContext, StartedComponent } from './component.js';
import { OutboxRelay } from './pg/outbox.js';
import { pruneProcessedEvents } from './pg/idempotency.js';
import { SharedTransactionMetrics, sharedTransactionRunner } from './pg/batch-runner.js';
import { startConsumer, type BatchRun, type RunningConsumer } from './nats/consume.js';
import { effectiveConsumer, type ConsumerSpec } from './nats/topology.js';
import type { EventDef, EventMessage } from './nats/events.js';
import type { ReadinessCheck } from './ops-server.js';

/** Handled-event records are kept longer than any stream keeps a message (30 days). */
const PROCESSED_EVENTS_RETENTION_MS = 35 * 24 * 3_600_000;
const PRUNE_INTERVAL_MS = 3_600_000;

export interface ConsumeOptions<M> {
  /** What the dead-letter stream keeps instead of the message as it came (dead-letter.ts). */
  readonly deadLetterData?: (data: Uint8Array) => Uint8Array;
  /**
   * Handle messages that arrive together as one batch (consumers.batchSizeMax, batchLingerMs):
   * 'shared-transaction' when the handler's database work is all withTransaction / handleOnce on
   * the service's pool (one COMMIT per batch, batch-runner.ts), or a run of the service's own.
   */
  readonly batch?: 'shared-transaction' | BatchRun<M>;
  /**
   * With 'shared-transaction': messages whose handler waits on another service before its transaction run beside the batch
   * (batch-runner.ts).
   */
  readonly runAlone?: (message: M) => boolean;
  /**
   * With 'shared-transaction': the handler's handleOnce(pool, schema, consumer, eventIdOf(message)), recorded for the whole batch
   * in one statement (batch-runner.ts).
   */
  readonly handledOnce?: { readonly consumer: string; readonly eventIdOf: (message: M) => string | null };
}

export interface ServiceParts {
  readonly relay: OutboxRelay;
  readonly consumers: RunningConsumer[];
  /**
   * Starts a durable consumer with the service's settings. What a handler puts in the outbox is
   * published right after its commit (outbox.ts, the fast path).
   */
  readonly consume: <M extends EventMessage>(
    spec: ConsumerSpec, event: EventDef<M>, handler: (message: M) => Promise<void>, options?: ConsumeOptions<M>,
  ) => Promise<void>;
  readonly readiness: ReadinessCheck[];
  /** Stops consumers first (no new work), then the relay so queued events still go out. */
  readonly stop: (timeoutMs: number) => Promise<void>;
}

export function startServiceBase(context: ComponentContext, schema: string): ServiceParts {
  const { pool, nats, config, log, registry } = context;
  if (!pool) throw new Error(`service ${context.name} needs a Postgres pool`);
  const relay = new OutboxRelay({
    pool,
    js: nats.publisher,
    schema,
    batchSizeMax: config.outbox.batchSizeMax,
    pollIntervalMs: config.outbox.pollIntervalMs,
    publishTimeoutMs: config.nats.publishTimeoutMs,
    log,
    registry,
  });
  relay.start();
  const prune = setInterval(() => {
    pruneProcessedEvents(pool, schema, PROCESSED_EVENTS_RETENTION_MS).catch((err: unknown) =>
      log.warn({ err }, 'pruning processed events failed; will try again'),
    );
  }, PRUNE_INTERVAL_MS);
  prune.unref();
  const consumers: RunningConsumer[] = [];
  /** Made with the first batched consumer: a registry takes each metric name once. */
  let sharedMetrics: SharedTransactionMetrics | undefined;
  return {
    relay,
    consumers,
    consume: async (spec, event, handler, options) => {
      const effective = effectiveConsumer(spec, config.consumers);
      const run = options?.batch === 'shared-transaction'
        ? sharedTransactionRunner(pool, (sharedMetrics ??= new SharedTransactionMetrics(registry)), effective.durableName, {
          ...(options.runAlone ? { runAlone: options.runAlone } : {}),
          ...(options.handledOnce ? { handledOnce: { schema, ...options.handledOnce } } : {}),
        })
        : options?.batch;
      consumers.push(await startConsumer({
        ...(options?.deadLetterData ? { deadLetterData: options.deadLetterData } : {}),
        ...(run ? { batch: { sizeMax: config.consumers.batchSizeMax, lingerMs: config.consumers.batchLingerMs,
          runsInFlightMax: config.consumers.batchesInFlightMax, run } } : {}),
        nats, spec: effective, event, log,
        handler: (message) => handler(message),
        metrics: context.consumerMetrics,
        inFlightMax: config.consumers.inFlightMax,
        retryDelaysMs: config.consumers.retryDelaysMs,
        publishTimeoutMs: config.nats.publishTimeoutMs,
      }));
    },
    readiness: [{ name: 'outbox', check: () => (relay.healthy() ? null : 'last relay pass failed') }],
    stop: async (timeoutMs: number) => {
      clearInterval(prune);
      await Promise.all(consumers.map((c) => c.stop(timeoutMs)));
      await relay.stop();
    },
  };
}

/** A service that so far runs only the base: the outbox relay and housekeeping. */
export async function startBaseOnly(context: ComponentContext, schema: string): Promise<StartedComponent> {
  const base = startServiceBase(context, schema);
  return { readiness: base.readiness, stop: base.stop };
}
