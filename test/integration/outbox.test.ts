// Done-when: a state change and its event commit together; killing the relay
// part way through loses nothing and doubles nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { connectNats, provisionTopology, publishEncoded, encodeEvent, newEnvelope, Events, type NatsHandle } from '../../runtime/nats/index.js';
import { TOPOLOGY } from '../../cli/components.js';
import { createPool, enqueueEvent, migrateSchemas, OutboxRelay, withTransaction, LEFT_BEHIND_AFTER_MS, type Pool } from '../../runtime/pg/index.js';
import { Registry } from '../../runtime/metrics.js';
import { setupStack, quietLogger, waitFor, type Stack } from '../support/stack.js';
import { runTs } from '../support/child.js';

const log = quietLogger();
let stack: Stack;
let nats: NatsHandle;
let pool: Pool;

function outbound(i: number) {
  return {
    envelope: newEnvelope({ producer: 'test' }),
    messageRef: `ref-${i}`,
    operatorId: 'safaricom-ke',
    toMsisdn: '254712345678',
    fromAddress: '384',
    text: `receipt ${i}`,
  };
}

async function streamCount(stream: string): Promise<number> {
  return (await nats.jsm.streams.info(stream)).state.messages;
}

async function outboxCount(): Promise<number> {
  return (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM fixture.outbox')).rows[0]?.n ?? -1;
}

/**
 * Every event id stored in a stream, read back by sequence: SMS_OUTBOUND is a work queue, which
 * takes no second consumer, and reading this way leaves the messages where they are.
 */
async function eventIdsIn(stream: string, expected: number): Promise<string[]> {
  const { state } = await nats.jsm.streams.info(stream);
  const ids: string[] = [];
  const chunk = 200;
  for (let from = state.first_seq; from <= state.last_seq; from += chunk) {
    const seqs = Array.from({ length: Math.min(chunk, state.last_seq - from + 1) }, (_, i) => from + i);
    const messages = await Promise.all(seqs.map((seq) => nats.jsm.streams.getMessage(stream, { seq }).catch(() => null)));
    for (const m of messages) if (m) ids.push(Events.smsOutbound.type.decode(m.data).envelope?.eventId as string);
  }
  expect(ids.length).toBe(expected);
  return ids;
}

beforeAll(async () => {
  stack = await setupStack();
  nats = await connectNats({ ...stack.config.nats, name: 'test' }, log);
  await provisionTopology(nats, TOPOLOGY, 1, log);
  await migrateSchemas(stack.databaseUrl, [{ schema: 'fixture', dir: null }], log);
  pool = createPool({ url: stack.databaseUrl, poolSizeMax: 4, connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, applicationName: 'test' }, log);
  await pool.query('CREATE TABLE fixture.messages (ref TEXT PRIMARY KEY, state TEXT NOT NULL)');
});
afterAll(async () => {
  await pool?.end();
  await nats?.close();
  await stack?.cleanup();
});

describe('transactional outbox', () => {
  it('commits the state change and its event together, or neither', async () => {
    await expect(
      withTransaction(pool, 'READ COMMITTED', async (client) => {
        await client.query("INSERT INTO fixture.messages VALUES ('rolled-back', 'queued')");
        await enqueueEvent(client, 'fixture', Events.smsOutbound, outbound(0));
        throw new Error('crash before commit');
      }),
    ).rejects.toThrow('crash before commit');
    expect(await outboxCount()).toBe(0);
    expect((await pool.query("SELECT 1 FROM fixture.messages WHERE ref = 'rolled-back'")).rowCount).toBe(0);

    const message = outbound(1);
    await withTransaction(pool, 'READ COMMITTED', async (client) => {
      await client.query("INSERT INTO fixture.messages VALUES ('committed', 'queued')");
      await enqueueEvent(client, 'fixture', Events.smsOutbound, message);
      await enqueueEvent(client, 'fixture', Events.smsOutbound, message); // same event twice: stored once
    });
    expect(await outboxCount()).toBe(1);

    const before = await streamCount('SMS_OUTBOUND');
    const relay = new OutboxRelay({ pool, js: nats.js, schema: 'fixture', batchSizeMax: 50, pollIntervalMs: 20, publishTimeoutMs: 5_000, log, registry: new Registry() });
    expect(await relay.relayOnce()).toBe(1);
    expect(await outboxCount()).toBe(0);
    expect(await streamCount('SMS_OUTBOUND')).toBe(before + 1);
    await nats.jsm.streams.purge('SMS_OUTBOUND');
  });

  it("writes a transaction's events in the order they were emitted, and only inside a transaction", async () => {
    const messages = Array.from({ length: 7 }, (_, i) => outbound(50 + i));
    await withTransaction(pool, 'READ COMMITTED', async (client) => {
      for (const m of messages) await enqueueEvent(client, 'fixture', Events.smsOutbound, m);
      // Not written until just before COMMIT: one statement for the whole transaction.
      expect((await client.query('SELECT count(*)::int AS n FROM fixture.outbox')).rows[0].n).toBe(0);
    });
    const { rows } = await pool.query<{ event_id: string }>('SELECT event_id FROM fixture.outbox ORDER BY id');
    expect(rows.map((r) => r.event_id)).toEqual(messages.map((m) => m.envelope.eventId));
    await pool.query('DELETE FROM fixture.outbox');
    const client = await pool.connect();
    try {
      await expect(enqueueEvent(client, 'fixture', Events.smsOutbound, outbound(60))).rejects.toThrow('outside withTransaction');
    } finally {
      client.release();
    }
  });

  it('a crash after publishing but before deleting re-publishes without doubling', async () => {
    const messages = Array.from({ length: 5 }, (_, i) => outbound(100 + i));
    await withTransaction(pool, 'READ COMMITTED', async (client) => {
      for (const m of messages) await enqueueEvent(client, 'fixture', Events.smsOutbound, m);
    });
    // What the relay does before its DELETE; then it "crashes".
    for (const m of messages.slice(0, 3)) {
      await publishEncoded(nats.js, Events.smsOutbound.subject, Events.smsOutbound.typeName, m.envelope.eventId as string,
        encodeEvent(Events.smsOutbound, m), 5_000);
    }
    const relay = new OutboxRelay({ pool, js: nats.js, schema: 'fixture', batchSizeMax: 50, pollIntervalMs: 20, publishTimeoutMs: 5_000, log, registry: new Registry() });
    expect(await relay.relayOnce()).toBe(5);
    expect(await streamCount('SMS_OUTBOUND')).toBe(5);
    expect(new Set(await eventIdsIn('SMS_OUTBOUND', 5))).toEqual(new Set(messages.map((m) => m.envelope.eventId)));
    await nats.jsm.streams.purge('SMS_OUTBOUND');
  });

  it('a started relay publishes a commit\'s events at once, in order, and deletes their rows; a stopped one leaves them', async () => {
    const relay = new OutboxRelay({ pool, js: nats.publisher, schema: 'fixture', batchSizeMax: 50, pollIntervalMs: 60_000, publishTimeoutMs: 5_000, log, registry: new Registry() });
    relay.start();
    try {
      const messages = Array.from({ length: 5 }, (_, i) => outbound(200 + i));
      const committedAt = performance.now();
      await withTransaction(pool, 'READ COMMITTED', async (client) => {
        for (const m of messages) await enqueueEvent(client, 'fixture', Events.smsOutbound, m);
      });
      // The poll loop sleeps 60 s after its first pass: only the fast path can be this quick.
      await waitFor('the events in the stream', async () => (await streamCount('SMS_OUTBOUND')) === 5, 5_000);
      expect(performance.now() - committedAt).toBeLessThan(1_000);
      expect(await eventIdsIn('SMS_OUTBOUND', 5)).toEqual(messages.map((m) => m.envelope.eventId));
      await waitFor('their rows deleted', async () => (await outboxCount()) === 0, 5_000);
    } finally {
      await relay.stop();
    }
    await withTransaction(pool, 'READ COMMITTED', async (client) => enqueueEvent(client, 'fixture', Events.smsOutbound, outbound(300)));
    await new Promise((r) => setTimeout(r, 300));
    expect(await outboxCount()).toBe(1); // no relay of this pool and schema: the row waits for a poller
    expect(await streamCount('SMS_OUTBOUND')).toBe(5);
    await pool.query('DELETE FROM fixture.outbox');
    await nats.jsm.streams.purge('SMS_OUTBOUND');
  });

  it('rows committed with no relay running are published by the poll loop once they are older than the grace', async () => {
    const messages = Array.from({ length: 3 }, (_, i) => outbound(400 + i));
    await withTransaction(pool, 'READ COMMITTED', async (client) => {
      for (const m of messages) await enqueueEvent(client, 'fixture', Events.smsOutbound, m);
    });
    const committedAt = performance.now();
    const relay = new OutboxRelay({ pool, js: nats.publisher, schema: 'fixture', batchSizeMax: 50, pollIntervalMs: 50, publishTimeoutMs: 5_000, log, registry: new Registry() });
    relay.start();
    try {
      await waitFor('the left-behind events in the stream', async () => (await streamCount('SMS_OUTBOUND')) === 3, 10_000);
      // Not before the grace: the fast path of another process may still be on them.
      expect(performance.now() - committedAt).toBeGreaterThan(LEFT_BEHIND_AFTER_MS - 250);
      expect(await eventIdsIn('SMS_OUTBOUND', 3)).toEqual(messages.map((m) => m.envelope.eventId));
      expect(await outboxCount()).toBe(0);
    } finally {
      await relay.stop();
    }
    await nats.jsm.streams.purge('SMS_OUTBOUND');
  });

  it('killing the relay process part way loses nothing and doubles nothing', async () => {
    const total = 6_000;
    const ids: string[] = [];
    await withTransaction(pool, 'READ COMMITTED', async (client) => {
      for (let i = 0; i < total; i++) {
        const m = outbound(1_000 + i);
        ids.push(m.envelope.eventId as string);
        await enqueueEvent(client, 'fixture', Events.smsOutbound, m);
      }
    });
    const env = { NATS_URL: stack.nats.url, DATABASE_URL: stack.databaseUrl, BATCH: '5' };
    let kills = 0;
    // Kill it twice while it is part way through: some events out, some still queued.
    while (kills < 2) {
      const floor = await streamCount('SMS_OUTBOUND');
      const relay = runTs('test/fixtures/relay-worker.ts', [], env);
      await waitFor('relay progress', async () => (await streamCount('SMS_OUTBOUND')) > floor + 100, 30_000).catch(async (err: Error) => {
        throw new Error(`${err.message}; outbox ${await outboxCount()} stream ${await streamCount('SMS_OUTBOUND')} floor ${floor}; relay output: ${relay.stdout().slice(-1500)} ${relay.stderr().slice(-1500)}`);
      });
      await relay.kill('SIGKILL');
      kills++;
      const left = await outboxCount();
      expect(left).toBeGreaterThan(0); // really part way: there is still work
    }
    const last = runTs('test/fixtures/relay-worker.ts', [], env);
    try {
      await waitFor('outbox drained', async () => (await outboxCount()) === 0, 60_000);
    } finally {
      await last.kill('SIGTERM');
    }
    expect(await streamCount('SMS_OUTBOUND')).toBe(total);
    const stored = await eventIdsIn('SMS_OUTBOUND', total);
    expect(new Set(stored).size).toBe(total);
    expect(new Set(stored)).toEqual(new Set(ids));
  });
});
