// A reconciliation run that at most one process does per file: `dialpay reconcile`
// may start on several hosts at once (each host's daily timer), or again later.
// The run holds the file's lease (runtime/pg/lease.ts: operator and SHA-256 of
// the file); whoever gets it second, once the first finished, finds the run
// recorded in reconciliation.runs and answers with its summary: one report,
// one ReconciliationCompleted event. One whose holder died part-way (SIGKILL)
// gets the lease at once and does the run itself (a takeover).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { OperatorConfig } from '../../runtime/config/index.js';
import { withTransaction, type Pool } from '../../runtime/pg/index.js';
import { LeaseHeldError, type Leases } from '../../runtime/pg/lease.js';
import { reconcile, type ReconcileSummary } from './run.js';

export interface ExclusiveRun {
  readonly summary: ReconcileSummary;
  /** False when the file had been reconciled already: the summary is that run's. */
  readonly ranNow: boolean;
}

/** The file's SHA-256, streamed: memory stays bounded whatever its length. */
export async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function runLease(operatorId: string, sha256: string): string {
  return `reconciliation/${operatorId}/${sha256}`;
}

/**
 * Reconciles the file unless it was already (same operator, same bytes), under its lease; waits up
 * to leaseWaitMs for another process running it, then LeaseHeldError. `again` runs it once more
 * even if it was reconciled (a person asked for a fresh look at a changed ledger).
 */
export async function reconcileOnce(options: {
  operator: OperatorConfig; file: string; outBase: string; nc: NatsConnection; js: JetStreamClient; publishTimeoutMs: number;
  pool: Pool; leases: Leases; leaseWaitMs: number; onLeaseWait?: () => void; again?: boolean;
}): Promise<ExclusiveRun> {
  const { operator, pool } = options;
  const sha256 = await fileSha256(options.file);
  const name = runLease(operator.id, sha256);
  const lease = await options.leases.acquire(name, options.leaseWaitMs, options.onLeaseWait);
  if (!lease) throw new LeaseHeldError(name);
  try {
    const done = await pool.query<{ summary: ReconcileSummary }>(
      'SELECT summary FROM reconciliation.runs WHERE operator_id = $1 AND file_sha256 = $2', [operator.id, sha256],
    );
    const stored = done.rows[0];
    if (stored && !options.again) return { summary: stored.summary, ranNow: false };
    // Another process had this file's lease and recorded nothing: it died or failed part-way.
    if (lease.contended && !stored) lease.tookOver();
    // The file's own event id: a takeover of a run that died after publishing is not published twice (duplicate window).
    const eventId = options.again ? undefined : `reconciliation:${operator.id}:${sha256}`;
    const summary = await reconcile({ ...options, signal: lease.signal, ...(eventId ? { eventId } : {}) });
    await withTransaction(pool, 'READ COMMITTED', async (client) => {
      await lease.assertHeldIn(client);
      await client.query(
        `INSERT INTO reconciliation.runs (operator_id, file_sha256, summary) VALUES ($1, $2, $3)
         ON CONFLICT (operator_id, file_sha256) DO UPDATE SET summary = EXCLUDED.summary, completed_at = now()`,
        [operator.id, sha256, JSON.stringify(summary)],
      );
    });
    return { summary, ranNow: true };
  } finally {
    await lease.release();
  }
}
