// Done-when: an event reaches a handler; the handler's process is killed
// before it acks; after restart the event is redelivered and the effect has
// happened exactly once (idempotency key in Postgres).
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { connectNats, provisionTopology, publishEvent, newEnvelope, Events, type NatsHandle } from '../../runtime/nats/index.js';
import { TOPOLOGY } from '../../cli/components.js';
import { setupStack, quietLogger, waitFor, type Stack } from '../support/stack.js';
import { runTs } from '../support/child.js';
import { EFFECT_CONSUMER } from '../fixtures/effect-consumer.js';

const log = quietLogger();
let stack: Stack;
let nats: NatsHandle;
let db: pg.Client;

beforeAll(async () => {
  stack = await setupStack();
  nats = await connectNats({ ...stack.config.nats, name: 'test' }, log);
  await provisionTopology(nats, { ...TOPOLOGY, consumers: [EFFECT_CONSUMER] }, 1, log);
  db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await nats?.close();
  await stack?.cleanup();
});

it('applies the effect exactly once when the handler dies after committing but before acking', async () => {
  const env = { NATS_URL: stack.nats.url, DATABASE_URL: stack.databaseUrl };
  const doomed = runTs('test/fixtures/effect-worker.ts', [], { ...env, HANG_AFTER_COMMIT: '1' });
  await doomed.waitForLine(/^READY/);
  const envelope = newEnvelope({ producer: 'test' });
  await publishEvent(nats.js, Events.smsInbound, { envelope, operatorId: 'safaricom-ke', fromMsisdn: '254712345678', toAddress: '384', text: 'BAL' }, { timeoutMs: 5_000 });
  await doomed.waitForLine(new RegExp(`^APPLIED ${envelope.eventId}`));
  await doomed.kill('SIGKILL');

  const before = await db.query('SELECT count(*)::int AS n FROM fixture.effects WHERE event_id = $1', [envelope.eventId]);
  expect(before.rows[0].n).toBe(1);
  const pending = await nats.jsm.consumers.info('SMS_INBOUND', 'effect-worker');
  expect(pending.num_ack_pending).toBe(1); // delivered, never acked

  const survivor = runTs('test/fixtures/effect-worker.ts', [], env);
  try {
    await survivor.waitForLine(new RegExp(`^DUPLICATE ${envelope.eventId}`));
    await waitFor('the redelivered message to be acked', async () => {
      const info = await nats.jsm.consumers.info('SMS_INBOUND', 'effect-worker');
      return info.num_ack_pending === 0 && info.num_pending === 0;
    });
  } finally {
    await survivor.kill('SIGTERM');
  }
  const after = await db.query('SELECT count(*)::int AS n FROM fixture.effects WHERE event_id = $1', [envelope.eventId]);
  expect(after.rows[0].n).toBe(1);
  const processed = await db.query('SELECT count(*)::int AS n FROM fixture.processed_events WHERE event_id = $1', [envelope.eventId]);
  expect(processed.rows[0].n).toBe(1);
});

it('a batch that committed in one transaction and died before its acks is redelivered and applied once', async () => {
  const env = { NATS_URL: stack.nats.url, DATABASE_URL: stack.databaseUrl, BATCH: '1' };
  // Published before the worker starts: it takes them in one pull, as one batch.
  const envelopes = Array.from({ length: 3 }, () => newEnvelope({ producer: 'test' }));
  for (const envelope of envelopes) {
    await publishEvent(nats.js, Events.smsInbound, { envelope, operatorId: 'safaricom-ke', fromMsisdn: '254712345678', toAddress: '384', text: 'BAL' }, { timeoutMs: 5_000 });
  }
  const ids = envelopes.map((e) => e.eventId as string);
  const doomed = runTs('test/fixtures/effect-worker.ts', [], { ...env, HANG_AFTER_COMMIT: '1' });
  for (const id of ids) await doomed.waitForLine(new RegExp(`^APPLIED ${id}`));
  await doomed.kill('SIGKILL');

  const before = await db.query<{ xmin: string }>('SELECT xmin::text AS xmin FROM fixture.effects WHERE event_id = ANY($1)', [ids]);
  expect(before.rows).toHaveLength(3);
  expect(new Set(before.rows.map((r) => r.xmin)).size).toBe(1); // one transaction
  expect((await nats.jsm.consumers.info('SMS_INBOUND', 'effect-worker')).num_ack_pending).toBe(3);

  const survivor = runTs('test/fixtures/effect-worker.ts', [], env);
  try {
    for (const id of ids) await survivor.waitForLine(new RegExp(`^DUPLICATE ${id}`));
    await waitFor('the redelivered batch to be acked', async () => {
      const info = await nats.jsm.consumers.info('SMS_INBOUND', 'effect-worker');
      return info.num_ack_pending === 0 && info.num_pending === 0;
    });
  } finally {
    await survivor.kill('SIGTERM');
  }
  const after = await db.query('SELECT event_id FROM fixture.effects WHERE event_id = ANY($1)', [ids]);
  expect(after.rows).toHaveLength(3);
  const processed = await db.query('SELECT event_id FROM fixture.processed_events WHERE event_id = ANY($1)', [ids]);
  expect(processed.rows).toHaveLength(3);
});
