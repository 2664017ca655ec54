// Transactional outbox. A service writes its state change and the events it
// emits in one transaction (enqueueEvent); the relay publishes them with the
// event id as Nats-Msg-Id and deletes them only after JetStream acknowledged.
// A crash between publish and delete re-publishes, and the stream's duplicate
// window plus idempotent handlers absorb the repeat: nothing lost or doubled.
// Fast path: once the transaction commits, its events go straight to the relay
// of that pool and schema in this process, which publishes them at once and
// deletes their rows in batches. The relay's poll loop takes only rows older
// than LEFT_BEHIND_AFTER_MS: what a crash, a failed publish or a process
// without a relay (a CLI command) left behind.
import type { DurablePublish } from '../nats/pubacks.js';
import type pg from 'pg';
import type { EventDef, EventMessage } from '../nats/events.js';
import { encodeEvent, eventIdOf, newEnvelope, publishEncoded, type EnvelopeFields } from '../nats/publish.js';
import type { Logger } from '../log.js';
import { Counter, Gauge, Histogram, LATENCY_BUCKETS_SECONDS, type Registry } from '../metrics.js';
import { onAfterCommit, onBeforeCommit, quoteIdent, transactionLocal, transactionPool, withTransaction } from './pool.js';
import { namedPerCount, namedPerKey, query, type Sql } from './named.js';

interface PendingEvents {
  readonly eventIds: string[];
  readonly subjects: string[];
  readonly typeNames: string[];
  readonly payloads: Buffer[];
}

/** Rows per INSERT: a statement takes at most 65,535 parameters, four per row. */
const INSERT_ROWS_MAX = 1_000;
/**
 * The insert of n rows is named per schema and n up to this many rows (a step emits three or
 * four events, a shared batch's transaction a few times that); a larger one goes unnamed.
 */
const INSERT_ROWS_NAMED_MAX = 16;
const insertSqls = new Map<string, (rows: number) => Sql>();
function insertSql(schema: string, rowCount: number): Sql {
  let bySize = insertSqls.get(schema);
  if (!bySize) {
    const table = `${quoteIdent(schema)}.outbox`;
    bySize = namedPerCount(`outbox.insert:${schema}`, INSERT_ROWS_NAMED_MAX, (n) => {
      const rows = Array.from({ length: n }, (_, i) => `($${i * 4 + 1}, $${i * 4 + 2}, $${i * 4 + 3}, $${i * 4 + 4}, clock_timestamp())`);
      // created_at at the insert, just before COMMIT (not the transaction's start): the poller's
      // grace counts from about when the fast path got the rows.
      return `INSERT INTO ${table} (event_id, subject, type_name, payload, created_at) VALUES ${rows.join(', ')}
           ON CONFLICT (event_id) DO NOTHING RETURNING id, event_id`;
    });
    insertSqls.set(schema, bySize);
  }
  return bySize(rowCount);
}
const deleteSql = namedPerKey('outbox.delete', (schema) => `DELETE FROM ${quoteIdent(schema)}.outbox WHERE id = ANY($1::bigint[])`);

/** A transaction's events not yet written, by schema. */
const PENDING_EVENTS = Symbol('outbox pending events');

/** An event whose row committed: what the fast path publishes, and the row it deletes after. */
export interface CommittedEvent {
  readonly id: string;
  readonly eventId: string;
  readonly subject: string;
  readonly typeName: string;
  readonly payload: Buffer;
}

/** The started relays of this process, by pool, then schema: where a commit hands its events. */
const relays = new WeakMap<pg.Pool, Map<string, OutboxRelay>>();

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
      const committed: { id: bigint; event_id: string }[] = [];
      // One multi-row VALUES: planned like the single-row insert (an unnest of arrays cost
      // four times the execution time per statement), and rows take their ids in this order.
      for (let from = 0; from < created.eventIds.length; from += INSERT_ROWS_MAX) {
        const values: unknown[] = [];
        const eventIds = created.eventIds.slice(from, from + INSERT_ROWS_MAX);
        eventIds.forEach((eventId, i) =>
          values.push(eventId, created.subjects[from + i], created.typeNames[from + i], created.payloads[from + i]));
        const inserted = await query<{ id: bigint; event_id: string }>(client, insertSql(schema, eventIds.length), values);
        committed.push(...inserted.rows);
      }
      // A row already there (the same event emitted again) is not returned: whoever wrote it relays it.
      const pool = transactionPool(client);
      onAfterCommit(client, () => {
        const relay = relays.get(pool)?.get(schema);
        if (!relay || committed.length === 0) return;
        const index = new Map(created.eventIds.map((eventId, i) => [eventId, i]));
        relay.handOver(
          committed
            .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
            .map((row) => {
              const i = index.get(row.event_id) as number;
              return {
                id: row.id.toString(), eventId: row.event_id, subject: created.subjects[i] as string,
                typeName: created.typeNames[i] as string, payload: created.payloads[i] as Buffer,
              };
            }),
        );
      });
    });
  }
  pending.eventIds.push(eventIdOf(message));
  pending.subjects.push(def.subject);
  pending.typeNames.push(def.typeName);
  pending.payloads.push(payload);
}

/** Who writes an outbox: its schema (where the outbox table is) and the producer its envelopes name. */
export interface OutboxWriter {
  readonly schema: string;
  readonly producer: string;
}

/**
 * Adds an event to the transaction's outbox (enqueueEvent) with the writer's envelope: `ids.eventId`
 * derived from a business key, so a re-emit is the same event (deduplicated). `correlationId` defaults
 * to the event id and `paymentId` to none, as in newEnvelope.
 */
export function emitEvent<M extends EventMessage>(
  client: pg.ClientBase,
  writer: OutboxWriter,
  def: EventDef<M>,
  ids: Omit<EnvelopeFields, 'producer' | 'eventId'> & { readonly eventId: string },
  body: Omit<M, 'envelope'>,
): Promise<void> {
  return enqueueEvent(client, writer.schema, def, { ...body, envelope: newEnvelope({ ...ids, producer: writer.producer }) } as M);
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
/**
 * The poll loop takes only rows this old: younger ones are the fast path's, published right after
 * their commit. A row both paths publish is dropped by the stream's duplicate window (2 min) anyway.
 */
export const LEFT_BEHIND_AFTER_MS = 2_000;
/** Events the fast path publishes at once; past this a commit's events wait for the poll loop. */
const FAST_EVENTS_IN_FLIGHT_MAX = 10_000;
/** Row ids one fast-path DELETE takes. */
const DELETE_IDS_MAX = 5_000;
/**
 * Published rows are deleted this long after the first of them was acknowledged, together: one
 * DELETE (one commit) for every transaction relayed meanwhile, not one each. Well inside
 * LEFT_BEHIND_AFTER_MS, so the poll loop does not see them.
 */
const DELETE_INTERVAL_MS = 100;
/** Published rows waiting for their DELETE; past this they are left for the poll loop (re-published, deduplicated). */
const DELETE_PENDING_MAX = 50_000;
/** One warning per this interval for failed fast publishes: NATS down at a thousand commits a second must not flood the log. */
const FAST_FAILURE_LOG_INTERVAL_MS = 5_000;

export class OutboxRelay {
  readonly #options: OutboxRelayOptions;
  readonly #published: Counter<'schema' | 'path'>;
  readonly #pending: Gauge<'schema'>;
  readonly #commitToPubAckSeconds: Histogram<'schema'>;
  #running = false;
  #loop: Promise<void> | null = null;
  #sleepTimer: NodeJS.Timeout | null = null;
  #wakeSleep: (() => void) | null = null;
  #healthy = true;
  /** Fast-path events published and not yet acknowledged. */
  #fastInFlight = 0;
  readonly #fastPublishes = new Set<Promise<void>>();
  /** Published rows whose DELETE has not been sent yet. */
  #toDelete: string[] = [];
  #deleteTimer: NodeJS.Timeout | null = null;
  #deleting: Promise<void> | null = null;
  #fastFailureLoggedAtMs = -Infinity;
  #fastFailuresUnlogged = 0;

  constructor(options: OutboxRelayOptions) {
    if (options.batchSizeMax < 1) throw new RangeError('batchSizeMax must be at least 1');
    this.#options = options;
    this.#published = new Counter({
      name: 'dialpay_outbox_events_published_total',
      help: 'Events relayed from a service outbox to JetStream, by path: fast (right after their commit), '
        + 'poll (left behind, found by the poll loop).',
      labelNames: ['schema', 'path'],
      registers: [options.registry],
    });
    for (const path of ['fast', 'poll']) this.#published.inc({ schema: options.schema, path }, 0);
    this.#pending = new Gauge({
      name: 'dialpay_outbox_events_pending',
      help: 'Events left behind in the outbox at the last poll pass (capped at one batch).',
      labelNames: ['schema'],
      registers: [options.registry],
    });
    this.#commitToPubAckSeconds = new Histogram({
      name: 'dialpay_outbox_commit_to_puback_seconds',
      help: 'Time from the commit of an event to its PubAck from JetStream, on the fast path.',
      labelNames: ['schema'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers: [options.registry],
    });
  }

  /** False after a failed poll pass, until a pass succeeds again. */
  healthy(): boolean {
    return this.#healthy;
  }

  /** Starts the poll loop and takes this pool and schema's commits from now on. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    const { pool, schema } = this.#options;
    let bySchema = relays.get(pool);
    if (!bySchema) relays.set(pool, (bySchema = new Map()));
    bySchema.set(schema, this);
    this.#loop = this.#run();
  }

  /** Stops taking commits and polling, then waits for the publishes and deletes under way. */
  async stop(): Promise<void> {
    const { pool, schema } = this.#options;
    if (relays.get(pool)?.get(schema) === this) relays.get(pool)?.delete(schema);
    this.#running = false;
    this.#wakeSleep?.();
    await this.#loop;
    while (this.#fastPublishes.size > 0) await Promise.all(this.#fastPublishes);
    if (this.#deleteTimer) clearTimeout(this.#deleteTimer);
    this.#deleteTimer = null;
    while (this.#deleting) await this.#deleting;
    if (this.#toDelete.length > 0) await (this.#deleting = this.#flushDeletes());
  }

  /**
   * A transaction's committed events (from the outbox's after-commit hook), in id order: published
   * now, in that order; their rows deleted once acknowledged. A failure leaves the rows to the poll loop.
   * Never throws.
   */
  handOver(events: readonly CommittedEvent[]): void {
    if (!this.#running || events.length === 0) return;
    if (this.#fastInFlight + events.length > FAST_EVENTS_IN_FLIGHT_MAX) return;
    const { js, schema, publishTimeoutMs } = this.#options;
    const committedAt = performance.now();
    this.#fastInFlight += events.length;
    // Each publish writes its request before the next starts: on one connection the stream keeps the order.
    const results = events.map((e) =>
      publishEncoded(js, e.subject, e.typeName, e.eventId, e.payload, publishTimeoutMs).then(() => {
        this.#commitToPubAckSeconds.observe({ schema }, (performance.now() - committedAt) / 1000);
      }),
    );
    const done: Promise<void> = Promise.allSettled(results).then((settled) => {
      this.#fastInFlight -= events.length;
      this.#fastPublishes.delete(done);
      const acked = events.filter((_, i) => settled[i]?.status === 'fulfilled');
      if (acked.length > 0) this.#published.inc({ schema, path: 'fast' }, acked.length);
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) this.#fastFailed(failed.reason, events.length - acked.length);
      this.#deleteLater(acked.map((e) => e.id));
    });
    this.#fastPublishes.add(done);
  }

  #fastFailed(err: unknown, events: number): void {
    this.#fastFailuresUnlogged += events;
    const now = performance.now();
    if (now - this.#fastFailureLoggedAtMs < FAST_FAILURE_LOG_INTERVAL_MS) return;
    this.#fastFailureLoggedAtMs = now;
    this.#options.log.warn(
      { err, schema: this.#options.schema, failed: this.#fastFailuresUnlogged },
      'outbox fast publish failed; the poll loop relays those events',
    );
    this.#fastFailuresUnlogged = 0;
  }

  /** Deletes published rows DELETE_INTERVAL_MS later, with whatever else was published meanwhile. */
  #deleteLater(ids: readonly string[]): void {
    if (ids.length === 0 || this.#toDelete.length + ids.length > DELETE_PENDING_MAX) return;
    this.#toDelete.push(...ids);
    this.#scheduleDeletes();
  }

  #scheduleDeletes(): void {
    if (this.#deleteTimer || this.#deleting || this.#toDelete.length === 0) return;
    this.#deleteTimer = setTimeout(() => {
      this.#deleteTimer = null;
      this.#deleting = this.#flushDeletes();
    }, DELETE_INTERVAL_MS);
  }

  async #flushDeletes(): Promise<void> {
    const { pool, schema, log } = this.#options;
    // What is published from now on waits for the next interval.
    const published = this.#toDelete;
    this.#toDelete = [];
    try {
      for (let from = 0; from < published.length; from += DELETE_IDS_MAX) {
        const ids = published.slice(from, from + DELETE_IDS_MAX);
        try {
          await query(pool, deleteSql(schema), [ids]);
        } catch (err) {
          // Published already: the poll loop re-publishes them (the stream drops the repeat) and deletes them.
          log.warn({ err, schema, rows: ids.length }, 'could not delete relayed outbox rows; the poll loop takes them');
        }
      }
    } finally {
      this.#deleting = null;
      // What was published while this DELETE ran goes with the next one.
      if (this.#running) this.#scheduleDeletes();
    }
  }

  /** Publishes one batch of rows at least leftBehindAfterMs old (0: every row); returns how many. */
  async relayOnce(leftBehindAfterMs = 0): Promise<number> {
    const { pool, js, schema, batchSizeMax, publishTimeoutMs } = this.#options;
    const table = `${quoteIdent(schema)}.outbox`;
    const count = await withTransaction(pool, 'READ COMMITTED', async (client) => {
      // SKIP LOCKED lets replicas share the outbox without waiting on each other.
      const { rows } = await client.query<OutboxRow>(
        `SELECT id, event_id, subject, type_name, payload FROM ${table}
         WHERE created_at <= now() - ($2::bigint * interval '1 millisecond')
         ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [batchSizeMax, leftBehindAfterMs],
      );
      if (rows.length === 0) return 0;
      // Published in id order on one connection, so the stream keeps the order.
      await Promise.all(rows.map((r) => publishEncoded(js, r.subject, r.type_name, r.event_id, r.payload, publishTimeoutMs)));
      await client.query(`DELETE FROM ${table} WHERE id = ANY($1::bigint[])`, [rows.map((r) => r.id.toString())]);
      return rows.length;
    });
    this.#pending.set({ schema }, count);
    if (count > 0) this.#published.inc({ schema, path: 'poll' }, count);
    return count;
  }

  async #run(): Promise<void> {
    const { log, pollIntervalMs, batchSizeMax } = this.#options;
    let errorBackoffMs = pollIntervalMs;
    while (this.#running) {
      let relayed = 0;
      try {
        relayed = await this.relayOnce(LEFT_BEHIND_AFTER_MS);
        this.#healthy = true;
        errorBackoffMs = pollIntervalMs;
      } catch (err) {
        this.#healthy = false;
        log.error({ err, schema: this.#options.schema }, 'outbox relay pass failed; rows stay for the next pass');
        errorBackoffMs = Math.min(errorBackoffMs * 2, ERROR_BACKOFF_MS_MAX);
        await this.#sleep(errorBackoffMs);
        continue;
      }
      if (relayed < batchSizeMax && this.#running) await this.#sleep(pollIntervalMs);
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
