// A batched consumer's run for handlers whose database work is all
// withTransaction / handleOnce on one pool: the batch's handlers share one
// transaction and one COMMIT (batch.ts); when any of them fails, each runs
// again alone and answers for itself. Typed structurally so runtime/nats
// (whose BatchItem fits) and runtime/pg need not import each other.
import type pg from 'pg';
import { Counter, Histogram, type Registry } from '../metrics.js';
import { inOneTransaction } from './batch.js';
import { recordEvents } from './idempotency.js';

/** What the runner needs of a batch item: runtime/nats's BatchItem has it. */
export interface BatchUnit<M = unknown> {
  readonly message: M;
  readonly handle: () => Promise<void>;
}

export interface SharedTransactionOptions<M> {
  /**
   * Messages whose handler waits on something else before its transaction (a request to another
   * service): they run in their own transactions, beside the shared one, so the batch's
   * transaction (and the locks it holds) does not wait with them.
   */
  readonly runAlone?: (message: M) => boolean;
  /**
   * The handler records its message with handleOnce(pool, schema, consumer, eventIdOf(message)):
   * the shared transaction records the whole batch in one statement first (recordEvents), so
   * each handleOnce costs none. A message without an id (null) records its own, if any.
   */
  readonly handledOnce?: { readonly schema: string; readonly consumer: string; readonly eventIdOf: (message: M) => string | null };
}

/** Units per shared COMMIT: powers of two up to the largest batch worth having. */
const UNITS_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

export class SharedTransactionMetrics {
  readonly batches: Counter<'consumer' | 'outcome'>;
  readonly units: Histogram<'consumer'>;

  constructor(registry: Registry) {
    this.batches = new Counter({
      name: 'dialpay_pg_shared_transaction_batches_total',
      help: 'Batches of a batched consumer, by outcome: shared (one COMMIT for all), fallen_back (a unit failed: each ran alone), '
        + 'alone (one message: its own transaction).',
      labelNames: ['consumer', 'outcome'],
      registers: [registry],
    });
    this.units = new Histogram({
      name: 'dialpay_pg_shared_transaction_units',
      help: 'Messages committed by one shared COMMIT.',
      labelNames: ['consumer'],
      buckets: UNITS_BUCKETS,
      registers: [registry],
    });
  }
}

/** A run (runtime/nats BatchRun) that commits the batch's handlers in one READ COMMITTED transaction on `pool`. */
export function sharedTransactionRunner<M>(
  pool: pg.Pool, metrics: SharedTransactionMetrics, consumer: string, options: SharedTransactionOptions<M> = {},
): (items: readonly BatchUnit<M>[]) => Promise<PromiseSettledResult<void>[]> {
  // Series at 0 from the start, so increase() sees the first step.
  for (const outcome of ['shared', 'fallen_back', 'alone']) metrics.batches.inc({ consumer, outcome }, 0);
  const shareAll = async (units: readonly BatchUnit<M>[]): Promise<PromiseSettledResult<void>[]> => {
    if (units.length === 0) return [];
    const record = options.handledOnce;
    const eventIds = record ? units.flatMap((unit) => record.eventIdOf(unit.message) ?? []) : [];
    const hooks = record && eventIds.length > 0
      ? { begin: (client: pg.ClientBase) => recordEvents(client, record.schema, record.consumer, eventIds) }
      : {};
    const outcome = await inOneTransaction(pool, 'READ COMMITTED', units.map((unit) => unit.handle), hooks);
    if (outcome.shared) {
      metrics.batches.inc({ consumer, outcome: 'shared' });
      metrics.units.observe({ consumer }, units.length);
    } else {
      metrics.batches.inc({ consumer, outcome: units.length > 1 ? 'fallen_back' : 'alone' });
    }
    return outcome.results;
  };
  const { runAlone } = options;
  if (!runAlone) return shareAll;
  return async (items) => {
    const apart = items.map((item) => runAlone(item.message));
    const [alone, shared] = await Promise.all([
      Promise.allSettled(items.filter((_, i) => apart[i]).map((item) => item.handle())),
      shareAll(items.filter((_, i) => !apart[i])),
    ]);
    // Back in the items' order.
    let a = 0;
    let s = 0;
    return apart.map((isAlone) => (isAlone ? alone[a++] : shared[s++]) as PromiseSettledResult<void>);
  };
}
