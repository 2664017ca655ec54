// Transactional outbox. A service writes its state change and the events it
// emits in one transaction (enqueueEvent); the relay publishes them with the
// event id as Nats-Msg-Id and deletes them only after JetStream acknowledged.
// A crash between publish and delete re-publishes, and the stream's duplicate
// window plus idempotent handlers absorb the repeat: nothing lost or doubled.
import type { DurablePublish } from '../nats/pubacks.js';
import type pg from 'pg';
import type { EventDef, EventMessage } from '../nats/events.js';
import { encodeEvent, eventIdOf, publishEncoded } from '../nats/publish.js';
import type { Logger } from '../log.js';
import { Counter, Gauge, type Registry } from '../metrics.js';
import { onBeforeCommit, quoteIdent, transactionLocal, withTransaction } from './pool.js';

interface PendingEvents {
  readonly eventIds: string[];
  readonly subjects: string[];
  readonly typeNames: string[];
  readonly payloads: Buffer[];
}

/** Rows per INSERT: a statement takes at most 65,535 parameters, four per row. */
const INSERT_ROWS_MAX = 1_000;
/** A transaction's events not yet written, by schema. */
const PENDING_EVENTS = Symbol('outbox pending events');

/**
 * Adds an event to the transaction's outbox. The rows are written in one
 * statement just before COMMIT (a payment step emits three or four events, and
 * each statement is a round trip), so they still commit, or roll back, with
 * the state change. The client must be inside withTransaction.
 */
export async function enqueueEvent<M extends EventMessage>(
  client: pg.ClientBase,
  schema: string,
  def: EventDef<M>,
  message: M,
): Promise<void> {
  // Encoding here, not at commit, so a bad message fails at the line that emitted it.
  const payload = Buffer.from(encodeEvent(def, message));
  const bySchema = transactionLocal(client, PENDING_EVENTS, () => new Map<string, PendingEvents>());
  let pending = bySchema.get(schema);
  if (!pending) {
    const created: PendingEvents = { eventIds: [], subjects: [], typeNames: [], payloads: [] };
    pending = created;
    bySchema.set(schema, created);
    onBeforeCommit(client, async () => {
      // One multi-row VALUES: planned like the single-row insert (an unnest of arrays cost
      // four times the execution time per statement), and rows take their ids in this order.
      for (let from = 0; from < created.eventIds.length; from += INSERT_ROWS_MAX) {
        const values: unknown[] = [];
        const rows = created.eventIds.slice(from, from + INSERT_ROWS_MAX).map((eventId, i) => {
          values.push(eventId, created.subjects[from + i], created.typeNames[from + i], created.payloads[from + i]);
          return `($${i * 4 + 1}, $${i * 4 + 2}, $${i * 4 + 3}, $${i * 4 + 4})`;
        });
        await client.query(
          `INSERT INTO ${quoteIdent(schema)}.outbox (event_id, subject, type_name, payload) VALUES ${rows.join(', ')}
           ON CONFLICT (event_id) DO NOTHING`,
          values,
        );
      }
    });
  }
  pending.eventIds.push(eventIdOf(message));
  pending.subjects.push(def.subject);
  pending.typeNames.push(def.typeName);
  pending.payloads.push(payload);
}

export interface OutboxRelayOptions {
  readonly pool: pg.Pool;
  /** Durable publishes: the connection's PubAckMux (nats.publisher), or a JetStreamClient. */
  readonly js: DurablePublish;
  readonly schema: string;
  readonly batchSizeMax: number;
  readonly pollIntervalMs: number;
  readonly publishTimeoutMs: number;
  readonly log: Logger;
  readonly registry: Registry;
}

interface OutboxRow {
  id: bigint;
  event_id: string;
  subject: string;
  type_name: string;
  payload: Buffer;
}

const ERROR_BACKOFF_MS_MAX = 10_000;

export class OutboxRelay {
  readonly #options: OutboxRelayOptions;
  readonly #published: Counter<'schema'>;
  readonly #pending: Gauge<'schema'>;
  #running = false;
  #loop: Promise<void> | null = null;
  #sleepTimer: NodeJS.Timeout | null = null;
  #wakeSleep: (() => void) | null = null;
  #healthy = true;
  /** A nudge that came while a pass ran: the next pass starts at once instead of after a sleep. */
  #nudged = false;

  constructor(options: OutboxRelayOptions) {
    if (options.batchSizeMax < 1) throw new RangeError('batchSizeMax must be at least 1');
    this.#options = options;
    this.#published = new Counter({
      name: 'dialpay_outbox_events_published_total',
      help: 'Events relayed from a service outbox to JetStream.',
      labelNames: ['schema'],
      registers: [options.registry],
    });
    this.#pending = new Gauge({
      name: 'dialpay_outbox_events_pending',
      help: 'Events in the outbox at the last relay pass (capped at one batch).',
      labelNames: ['schema'],
      registers: [options.registry],
    });
  }

  /** False after a failed pass, until a pass succeeds again. */
  healthy(): boolean {
    return this.#healthy;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Wakes the relay now instead of at the next poll: call after committing new events. */
  nudge(): void {
    this.#nudged = true;
    this.#wakeSleep?.();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.nudge();
    await this.#loop;
  }

  /** Publishes one batch; returns how many events it relayed. */
  async relayOnce(): Promise<number> {
    const { pool, js, schema, batchSizeMax, publishTimeoutMs } = this.#options;
    const table = `${quoteIdent(schema)}.outbox`;
    const count = await withTransaction(pool, 'READ COMMITTED', async (client) => {
      // SKIP LOCKED lets replicas share the outbox without waiting on each other.
      const { rows } = await client.query<OutboxRow>(
        `SELECT id, event_id, subject, type_name, payload FROM ${table} ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [batchSizeMax],
      );
      if (rows.length === 0) return 0;
      // Published in id order on one connection, so the stream keeps the order.
      await Promise.all(rows.map((r) => publishEncoded(js, r.subject, r.type_name, r.event_id, r.payload, publishTimeoutMs)));
      await client.query(`DELETE FROM ${table} WHERE id = ANY($1::bigint[])`, [rows.map((r) => r.id.toString())]);
      return rows.length;
    });
    this.#pending.set({ schema }, count);
    if (count > 0) this.#published.inc({ schema }, count);
    return count;
  }

  async #run(): Promise<void> {
    const { log, pollIntervalMs, batchSizeMax } = this.#options;
    let errorBackoffMs = pollIntervalMs;
    while (this.#running) {
      let relayed = 0;
      this.#nudged = false;
      try {
        relayed = await this.relayOnce();
        this.#healthy = true;
        errorBackoffMs = pollIntervalMs;
      } catch (err) {
        this.#healthy = false;
        log.error({ err, schema: this.#options.schema }, 'outbox relay pass failed; rows stay for the next pass');
        errorBackoffMs = Math.min(errorBackoffMs * 2, ERROR_BACKOFF_MS_MAX);
        await this.#sleep(errorBackoffMs);
        continue;
      }
      if (relayed < batchSizeMax && !this.#nudged) await this.#sleep(pollIntervalMs);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wakeSleep = () => {
        if (this.#sleepTimer) clearTimeout(this.#sleepTimer);
        this.#wakeSleep = null;
        resolve();
      };
      this.#sleepTimer = setTimeout(() => this.#wakeSleep?.(), ms);
    });
  }
}
