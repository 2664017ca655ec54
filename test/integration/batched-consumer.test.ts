// Batched consumers against a real nats-server and PostgreSQL: messages that
// arrive together commit in one transaction (rows of one transaction share
// xmin) and are all acked; one bad message is retried or dead-lettered alone
// while the others' effects exist once; a redelivered batch does nothing twice.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connectNats, provisionTopology, publishEvent, startConsumer, newEnvelope, Events, DLQ_STREAM, DLQ_SUBJECT_PREFIX, ConsumerMetrics, PermanentHandlerError, type BatchRun, type ConsumerSpec, type NatsHandle, type Topology, type RunningConsumer } from '../../runtime/nats/index.js';
import { TOPOLOGY } from '../../cli/components.js';
import { createPool, handleOnce, migrateSchemas, sharedTransactionRunner, SharedTransactionMetrics, type Pool } from '../../runtime/pg/index.js';
import { Registry } from '../../runtime/metrics.js';
import { setupStack, quietLogger, waitFor, type Stack } from '../support/stack.js';
import type { dialpay } from '../../proto/index.js';

const log = quietLogger();
let stack: Stack;
let nats: NatsHandle;
let pool: Pool;
let running: RunningConsumer | null = null;

/** SMS_INBOUND as a limits stream, so each test's consumer reads it without erasing (as nats-layer.test.ts). */
const BATCH_TOPOLOGY: Topology = { ...TOPOLOGY, streams: TOPOLOGY.streams.map((s) => (s.name === 'SMS_INBOUND' ? { ...s, retention: undefined } : s)) };

const spec = (durableName: string, deliveriesMax = 3): ConsumerSpec => ({
  stream: 'SMS_INBOUND',
  durableName,
  filterSubject: Events.smsInbound.subject,
  ackWaitMs: 5_000,
  deliveriesMax,
  ackPendingMax: 1_000,
  deleteAfterAck: false,
});

function inbound(text: string) {
  return { envelope: newEnvelope({ producer: 'test' }), operatorId: 'safaricom-ke', fromMsisdn: '254712345678', toAddress: '384', text };
}

async function publishAll(count: number, text: (i: number) => string = (i) => `m${i}`): Promise<string[]> {
  const messages = Array.from({ length: count }, (_, i) => inbound(text(i)));
  await Promise.all(messages.map((m) => publishEvent(nats.js, Events.smsInbound, m, { timeoutMs: 5_000 })));
  return messages.map((m) => m.envelope.eventId as string);
}

/** A consumer whose handler records each event's effect once (handleOnce) and counts its calls. */
async function startBatched(name: string, options: {
  perMessageRecords?: boolean; run?: (shared: BatchRun<dialpay.v1.ISmsInbound>) => BatchRun<dialpay.v1.ISmsInbound>;
  fail?: (m: dialpay.v1.ISmsInbound, deliveryCount: number) => Error | null; deliveriesMax?: number; lingerMs?: number;
  runAlone?: (m: dialpay.v1.ISmsInbound) => boolean; waitBeforeMs?: (m: dialpay.v1.ISmsInbound) => number;
} = {}) {
  const calls = new Map<string, number>();
  // By default the batch records its events in one statement (handledOnce), as payments' SMS consumer does.
  const handledOnce = options.perMessageRecords ? {} : { handledOnce: { schema: 'fixture', consumer: name, eventIdOf: (m: dialpay.v1.ISmsInbound) => m.envelope?.eventId ?? null } };
  const shared = sharedTransactionRunner(pool, new SharedTransactionMetrics(new Registry()), name,
    { ...(options.runAlone ? { runAlone: options.runAlone } : {}), ...handledOnce });
  running = await startConsumer({
    nats,
    spec: spec(name, options.deliveriesMax),
    event: Events.smsInbound,
    log,
    metrics: new ConsumerMetrics(new Registry()),
    inFlightMax: 64,
    retryDelaysMs: [100],
    publishTimeoutMs: 5_000,
    batch: { sizeMax: 64, lingerMs: options.lingerMs ?? 50, run: options.run ? options.run(shared) : shared },
    handler: async (message, context) => {
      const eventId = message.envelope?.eventId as string;
      calls.set(eventId, (calls.get(eventId) ?? 0) + 1);
      const waitMs = options.waitBeforeMs?.(message) ?? 0;
      if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs)); // as a BAL asks billing before its transaction
      await handleOnce(pool, 'fixture', name, eventId, async (client) => {
        await client.query('INSERT INTO fixture.effects (consumer, event_id) VALUES ($1, $2)', [name, eventId]);
        const err = options.fail?.(message, context.deliveryCount);
        if (err) throw err;
      });
    },
  });
  return calls;
}

async function settled(name: string): Promise<void> {
  await waitFor(`${name} to ack everything`, async () => {
    const info = await nats.jsm.consumers.info('SMS_INBOUND', name);
    return info.num_pending === 0 && info.num_ack_pending === 0;
  });
}

async function effects(name: string): Promise<{ event_id: string; xmin: string }[]> {
  return (await pool.query<{ event_id: string; xmin: string }>('SELECT event_id, xmin::text AS xmin FROM fixture.effects WHERE consumer = $1', [name])).rows;
}

beforeAll(async () => {
  stack = await setupStack();
  nats = await connectNats({ ...stack.config.nats, name: 'test' }, log);
  await provisionTopology(nats, BATCH_TOPOLOGY, 1, log);
  await migrateSchemas(stack.databaseUrl, [{ schema: 'fixture', dir: null }], log);
  pool = createPool({ url: stack.databaseUrl, poolSizeMax: 8, connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, applicationName: 'test' }, log);
  await pool.query('CREATE TABLE fixture.effects (consumer TEXT NOT NULL, event_id TEXT NOT NULL)');
});
beforeEach(async () => {
  await running?.stop(5_000);
  running = null;
  await nats.jsm.streams.purge('SMS_INBOUND');
});
afterAll(async () => {
  await running?.stop(5_000);
  await pool?.end();
  await nats?.close();
  await stack?.cleanup();
});

describe('batched consumer', () => {
  it('commits messages that arrive together in one transaction and acks them all', async () => {
    const name = 'batch-one-commit';
    await provisionTopology(nats, { ...BATCH_TOPOLOGY, consumers: [spec(name)] }, 1, log);
    const ids = await publishAll(40);
    const calls = await startBatched(name);
    await settled(name);
    const rows = await effects(name);
    expect(rows.map((r) => r.event_id).sort()).toEqual([...ids].sort());
    // Rows written by one transaction share its xmin: all 40 committed together.
    expect(new Set(rows.map((r) => r.xmin)).size).toBe(1);
    expect([...calls.values()].every((n) => n === 1)).toBe(true);
    // Each delivered once: no redelivery took a consumer sequence.
    expect((await nats.jsm.consumers.info('SMS_INBOUND', name)).ack_floor.consumer_seq).toBe(40);
  });

  it('without handledOnce each handleOnce records its own event, and the batch still commits once', async () => {
    const name = 'batch-per-message';
    await provisionTopology(nats, { ...BATCH_TOPOLOGY, consumers: [spec(name)] }, 1, log);
    const ids = await publishAll(20);
    await startBatched(name, { perMessageRecords: true });
    await settled(name);
    const rows = await effects(name);
    expect(rows.map((r) => r.event_id).sort()).toEqual([...ids].sort());
    expect(new Set(rows.map((r) => r.xmin)).size).toBe(1);
    const processed = await pool.query<{ event_id: string }>('SELECT event_id FROM fixture.processed_events WHERE consumer = $1', [name]);
    expect(processed.rows.map((r) => r.event_id).sort()).toEqual([...ids].sort());
  });

  it('events handled before are skipped inside the shared transaction: the new ones commit together, nothing falls back', async () => {
    const name = 'batch-some-handled';
    await provisionTopology(nats, { ...BATCH_TOPOLOGY, consumers: [spec(name)] }, 1, log);
    const ids = await publishAll(12);
    const handled = [ids[1], ids[5], ids[11]] as string[];
    // As if an earlier delivery had committed them and died before its acks.
    await pool.query('INSERT INTO fixture.processed_events (consumer, event_id) SELECT $1, unnest($2::text[])', [name, handled]);
    const outcomes: boolean[] = [];
    const calls = await startBatched(name, {
      run: (shared) => async (items) => {
        const before = (await effects(name)).length;
        const results = await shared(items);
        outcomes.push((await effects(name)).length - before
          === items.filter((i) => !handled.includes(i.message.envelope?.eventId as string)).length);
        return results;
      },
    });
    await settled(name);
    const rows = await effects(name);
    expect(rows.map((r) => r.event_id).sort()).toEqual(ids.filter((id) => !handled.includes(id)).sort());
    expect(new Set(rows.map((r) => r.xmin)).size).toBe(1); // one shared commit: no unit ran alone
    expect(outcomes.every(Boolean)).toBe(true);
    expect([...calls.values()].every((n) => n === 1)).toBe(true); // each handler called once: no fallback
    const processed = await pool.query<{ event_id: string }>('SELECT event_id FROM fixture.processed_events WHERE consumer = $1', [name]);
    expect(processed.rows.map((r) => r.event_id).sort()).toEqual([...ids].sort());
  });

  it('a lone message goes without waiting for the linger', async () => {
    const name = 'batch-lone';
    await provisionTopology(nats, { ...BATCH_TOPOLOGY, consumers: [spec(name)] }, 1, log);
    await startBatched(name, { lingerMs: 10_000 });
    const started = performance.now();
    const [id] = await publishAll(1);
    await waitFor('the effect', async () => (await effects(name)).length === 1);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect((await effects(name))[0]?.event_id).toBe(id);
    await settled(name);
  });

  it('one failing message is retried or dead-lettered alone; the others are acked once and their effects exist once', async () => {
    const name = 'batch-one-bad';
    await provisionTopology(nats, { ...BATCH_TOPOLOGY, consumers: [spec(name)] }, 1, log);
    const ids = await publishAll(20, (i) => (i === 3 ? 'poison' : i === 7 ? 'flaky' : `m${i}`));
    const [poison, flaky] = [ids[3] as string, ids[7] as string];
    const calls = await startBatched(name, {
      fail: (m, deliveryCount) => (m.text === 'poison' ? new PermanentHandlerError('poison') : m.text === 'flaky' && deliveryCount === 1 ? new Error('flaky') : null),
    });
    await settled(name);
    const rows = await effects(name);
    const expected = ids.filter((id) => id !== poison);
    expect(rows.map((r) => r.event_id).sort()).toEqual([...expected].sort()); // each once, the poison's never
    const processed = await pool.query<{ event_id: string }>('SELECT event_id FROM fixture.processed_events WHERE consumer = $1', [name]);
    expect(processed.rows.map((r) => r.event_id).sort()).toEqual([...expected].sort());
    // The poison went to the DLQ once; the flaky one was delivered twice; no other was redelivered.
    const letter = await nats.jsm.streams.getMessage(DLQ_STREAM, { last_by_subj: `${DLQ_SUBJECT_PREFIX}.SMS_INBOUND.${name}` });
    expect(Events.smsInbound.type.decode((letter as NonNullable<typeof letter>).data).envelope?.eventId).toBe(poison);
    expect((await nats.jsm.streams.info(DLQ_STREAM, { subjects_filter: `${DLQ_SUBJECT_PREFIX}.SMS_INBOUND.${name}` })).state.subjects?.[`${DLQ_SUBJECT_PREFIX}.SMS_INBOUND.${name}`]).toBe(1);
    // Alone after the batch failed (it failed again: retried), then redelivered; in the batch too if it came before the poison.
    expect(calls.get(flaky)).toBeGreaterThanOrEqual(2);
    // 20 deliveries plus the flaky one's redelivery.
    expect((await nats.jsm.consumers.info('SMS_INBOUND', name)).ack_floor.consumer_seq).toBe(21);
  });

  it('dead-letters bytes that do not decode before the run; the rest of the batch commits together', async () => {
    const name = 'batch-undecodable';
    await provisionTopology(nats, { ...BATCH_TOPOLOGY, consumers: [spec(name)] }, 1, log);
    const before = await publishAll(3);
    await nats.js.publish(Events.smsInbound.subject, new Uint8Array([0xff, 0xff, 0xff]), { msgID: `garbage-${name}` });
    const after = await publishAll(3);
    const seen: number[] = [];
    await startBatched(name, {
      run: (shared) => async (items) => {
        seen.push(...items.map((i) => i.context.streamSequence));
        return shared(items);
      },
    });
    await settled(name);
    const rows = await effects(name);
    expect(rows.map((r) => r.event_id).sort()).toEqual([...before, ...after].sort());
    expect(new Set(rows.map((r) => r.xmin)).size).toBe(1);
    const letter = await nats.jsm.streams.getMessage(DLQ_STREAM, { last_by_subj: `${DLQ_SUBJECT_PREFIX}.SMS_INBOUND.${name}` });
    const garbageSeq = Number(letter?.header.get('Dialpay-Original-Sequence'));
    expect(Array.from(letter?.data ?? [])).toEqual([0xff, 0xff, 0xff]);
    expect(seen).toHaveLength(6);
    expect(seen).not.toContain(garbageSeq);
  });

  it('a message that waits on another service before its transaction runs beside the batch, not inside it', async () => {
    const name = 'batch-run-alone';
    await provisionTopology(nats, { ...BATCH_TOPOLOGY, consumers: [spec(name)] }, 1, log);
    const ids = await publishAll(10, (i) => (i === 2 ? 'slow' : `m${i}`));
    const slow = ids[2] as string;
    await startBatched(name, { runAlone: (m) => m.text === 'slow', waitBeforeMs: (m) => (m.text === 'slow' ? 1_500 : 0) });
    // The others commit together while the slow one still waits.
    await waitFor('the others committed', async () => (await effects(name)).length >= 9);
    expect((await effects(name)).map((r) => r.event_id)).not.toContain(slow);
    await settled(name);
    const rows = await effects(name);
    expect(rows.map((r) => r.event_id).sort()).toEqual([...ids].sort());
    const others = rows.filter((r) => r.event_id !== slow);
    expect(new Set(others.map((r) => r.xmin)).size).toBe(1);
    expect(rows.find((r) => r.event_id === slow)?.xmin).not.toBe(others[0]?.xmin);
  });

  it('a batch committed but not acked is redelivered and does nothing twice', async () => {
    const name = 'batch-redelivered';
    await provisionTopology(nats, { ...BATCH_TOPOLOGY, consumers: [spec(name)] }, 1, log);
    const ids = await publishAll(30);
    let lost = false;
    const calls = await startBatched(name, {
      // The batch commits, then its process "loses" the outcome: every message is nakked and comes again.
      run: (shared) => async (items) => {
        const results = await shared(items);
        if (!lost) {
          lost = true;
          throw new Error('answer lost after the commit');
        }
        return results;
      },
    });
    await settled(name);
    expect(lost).toBe(true);
    const rows = await effects(name);
    expect(rows.map((r) => r.event_id).sort()).toEqual([...ids].sort());
    expect(Math.max(...calls.values())).toBe(2); // the first batch ran again, finding each event handled
  });
});
