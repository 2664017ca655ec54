// A debit step's result event, enqueued through the outbox in the step's transaction.
import type pg from 'pg';
import type { dialpay } from '../../proto/index.js';
import type { EventDef } from '../../runtime/nats/index.js';
import { emitEvent, type OutboxWriter } from '../../runtime/pg/index.js';
import type { DebitOutcomeValue } from './debit-context.js';

export const PRODUCER = 'billing';
const SCHEMA = 'billing';
/** Billing's outbox: results to payments, credits' results. */
export const OUTBOX: OutboxWriter = { schema: SCHEMA, producer: PRODUCER };

/**
 * Result event ids name the debit, the step and the outcome: a repeated result is the same
 * event (deduplicated), and a different outcome is a different event, never silently dropped.
 */
export function enqueueResult<M extends {
  envelope?: dialpay.v1.IEnvelope | null; debitId?: string | null; paymentId?: string | null; outcome?: DebitOutcomeValue | null;
}>(
  client: pg.ClientBase, def: EventDef<M>, step: string, debitId: string, paymentId: string, outcome: DebitOutcomeValue,
  rest: Omit<M, 'envelope' | 'debitId' | 'paymentId' | 'outcome'>,
): Promise<void> {
  const body = { ...rest, debitId, paymentId, outcome } as Omit<M, 'envelope'>;
  return enqueue(client, def, `debit-${step}-result:${debitId}:${outcome}`, paymentId, body);
}

/** Result event ids derive from the debit id, so a re-emitted result is the same event. */
export async function enqueue<M extends { envelope?: dialpay.v1.IEnvelope | null }>(
  client: pg.ClientBase, def: EventDef<M>, eventId: string, paymentId: string, body: Omit<M, 'envelope'>,
): Promise<void> {
  await emitEvent(client, OUTBOX, def, { eventId, paymentId, correlationId: paymentId }, body);
}
