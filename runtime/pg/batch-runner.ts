// A batched consumer's run for handlers whose database work is all
// withTransaction / handleOnce on one pool: the batch's handlers share one
// transaction and one COMMIT (batch.ts); when any of them fails, each runs
// again alone and answers for itself. Typed structurally so runtime/nats
// (whose BatchItem fits) and runtime/pg need not import each other.
import type pg from 'pg';
import { Counter, Histogram, type Registry } from '../metrics.js';
import { inOneTransaction } from './batch.js';

/** What the runner needs of a batch item: runtime/nats's BatchItem has it. */
export interface BatchUnit {
  readonly handle: () => Promise<void>;
}

/** Units per shared COMMIT: powers of two up to the largest batch worth having. */
const UNITS_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

export class SharedTransactionMetrics {
  readonly batches: Counter<'consumer' | 'outcome'>;
  readonly units: Histogram<'consumer'>;

  constructor(registry: Registry) {
    this.batches = new Counter({
      name: 'dialpay_pg_shared_transaction_batches_total',
      help: 'Batches of a batched consumer, by outcome: shared (one COMMIT for all), fallen_back (a unit failed: each ran alone), alone (one message: its own transaction).',
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
export function sharedTransactionRunner(pool: pg.Pool, metrics: SharedTransactionMetrics, consumer: string): (items: readonly BatchUnit[]) => Promise<PromiseSettledResult<void>[]> {
  // Series at 0 from the start, so increase() sees the first step.
  for (const outcome of ['shared', 'fallen_back', 'alone']) metrics.batches.inc({ consumer, outcome }, 0);
  return async (items) => {
    const outcome = await inOneTransaction(pool, 'READ COMMITTED', items.map((item) => item.handle));
    if (outcome.shared) {
      metrics.batches.inc({ consumer, outcome: 'shared' });
      metrics.units.observe({ consumer }, items.length);
    } else {
      metrics.batches.inc({ consumer, outcome: items.length > 1 ? 'fallen_back' : 'alone' });
    }
    return outcome.results;
  };
}
