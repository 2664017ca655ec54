// The payment lifecycle events are notifications: a payment publishes PaymentRequested,
// PaymentChallenged, PaymentConfirmed and PaymentCompleted (or PaymentFailed) on core NATS
// once each step has committed; no stream stores them; a step whose transaction rolls back
// publishes nothing. The stack starts as an upgraded deployment: an older release left a row in
// payments' outbox for the old durable subject (dialpay.payment.*), which must not hold the relay back.
import { copyFileSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Msg, Subscription } from '@nats-io/transport-node';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { PaymentEngine } from '../../../services/payments/engine.js';
import { lockPayment } from '../../../services/payments/store.js';
import { connectNats, HEADER_EVENT_TYPE, Notifications, NOTIFY_SUBJECT_PREFIX, type EventDef, type EventMessage, type NatsHandle } from '../../../runtime/nats/index.js';
import { createPool, migrateSchemas, withTransaction, type PoolClient } from '../../../runtime/pg/index.js';
import { startPaymentsStack, type PaymentsStack } from '../../support/payments-stack.js';
import { readStored } from '../../support/streams.js';
import { quietLogger, waitFor, type Stack } from '../../support/stack.js';

let p: PaymentsStack;
let nats: NatsHandle;
let subscription: Subscription;
/** Every payment notification seen since the start, in arrival order. */
const seen: { subject: string; eventId: string; typeName: string; paymentId: string; message: EventMessage }[] = [];
const carrier = new SimulatedCarrier({ openingBalanceMinor: 1_000_000n });

const defBySubject = new Map<string, EventDef<EventMessage>>(
  Object.values(Notifications).map((d) => [d.subject, d as EventDef<EventMessage>]));
const PAYMENT_NOTIFICATIONS = `${NOTIFY_SUBJECT_PREFIX}.payment.>`;

function record(m: Msg): void {
  const def = defBySubject.get(m.subject);
  if (!def) throw new Error(`unexpected subject ${m.subject}`);
  const message = def.type.decode(m.data);
  seen.push({ subject: m.subject, eventId: m.headers?.get('Nats-Msg-Id') ?? '', typeName: m.headers?.get(HEADER_EVENT_TYPE) ?? '', paymentId: message.envelope?.paymentId ?? '', message });
}

const of = (paymentId: string) => seen.filter((n) => n.paymentId === paymentId);
const subjectsOf = (paymentId: string) => of(paymentId).map((n) => n.subject);
/** Everything the server had routed to this connection is in `seen` once this resolves. */
const settled = () => nats.nc.flush();

const PAYMENTS_MIGRATIONS = fileURLToPath(new URL('../../../services/payments/migrations/', import.meta.url));
const STALE_EVENT_ID = 'older-release:requested';

/** payments' schema as the release before notifications left it, with a PaymentRequested it had queued. */
async function asOlderRelease(stack: Stack): Promise<void> {
  const older = mkdtempSync(join(tmpdir(), 'dialpay-payments-older-'));
  for (const file of readdirSync(PAYMENTS_MIGRATIONS)) if (file < '0013') copyFileSync(join(PAYMENTS_MIGRATIONS, file), join(older, file));
  await migrateSchemas(stack.databaseUrl, [{ schema: 'payments', dir: older }], quietLogger());
  const pool = createPool({ url: stack.databaseUrl, poolSizeMax: 1, connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, applicationName: 'test-older' }, quietLogger());
  await pool.query(`INSERT INTO payments.outbox (event_id, subject, type_name, payload) VALUES ($1, 'dialpay.payment.requested', 'dialpay.v1.PaymentRequested', $2)`, [STALE_EVENT_ID, Buffer.from([0x0a, 0x00])]);
  await pool.end();
}

beforeAll(async () => {
  p = await startPaymentsStack(carrier, undefined, { beforeStart: asOlderRelease });
  nats = await connectNats({ ...p.stack.config.nats, name: 'test-notifications' }, quietLogger());
  subscription = nats.nc.subscribe(PAYMENT_NOTIFICATIONS, { callback: (err, m) => (err ? undefined : record(m)) });
  await settled();
}, 60_000);

afterAll(async () => {
  subscription?.unsubscribe();
  await nats?.close();
  await p?.cleanup();
});

describe('payment notifications', () => {
  it('an upgrade drops the rows an older release queued for dialpay.payment.* (migration 0013)', async () => {
    // Such a row would fail every relay pass: payments would report itself not ready ('outbox').
    const ready = await fetch(`http://127.0.0.1:${p.stack.config.http.opsPorts.payments}/readyz`);
    expect(ready.status, await ready.text()).toBe(200);
    expect((await p.pool.query('SELECT 1 FROM payments.outbox WHERE event_id = $1', [STALE_EVENT_ID])).rowCount).toBe(0);
    expect((await p.pool.query(`SELECT name FROM payments.migrations WHERE name = '0013_payment_notifications'`)).rowCount).toBe(1);
  });

  it('a completed payment publishes its lifecycle on core NATS, each once, in order', async () => {
    const id = await p.payBySms('254711800001', 'SHOP42', '250');
    await waitFor('PaymentCompleted', async () => subjectsOf(id).includes(Notifications.paymentCompleted.subject));
    expect(subjectsOf(id)).toEqual([
      Notifications.paymentRequested.subject, Notifications.paymentChallenged.subject,
      Notifications.paymentConfirmed.subject, Notifications.paymentCompleted.subject,
    ]);
    expect(of(id).map((n) => n.eventId)).toEqual([`${id}:requested`, `${id}:challenged`, `${id}:confirmed`, `${id}:completed`]);
    expect(of(id).map((n) => n.typeName)).toEqual(['dialpay.v1.PaymentRequested', 'dialpay.v1.PaymentChallenged', 'dialpay.v1.PaymentConfirmed', 'dialpay.v1.PaymentCompleted']);
    const requested = of(id)[0]?.message as ReturnType<typeof Notifications.paymentRequested.type.decode>;
    expect(requested).toMatchObject({ paymentId: id, payerMsisdn: '254711800001', merchantId: 'SHOP42' });
    expect(requested.envelope?.producer).toBe('payments');
  });

  it('a cancelled payment publishes PaymentFailed with its reason', async () => {
    const phone = '254711800002';
    await p.ask(phone, 'PAY SHOP42 120');
    const id = (await p.pool.query<{ payment_id: string }>('SELECT payment_id FROM payments.payments WHERE payer_msisdn = $1', [phone])).rows[0]?.payment_id as string;
    await p.ask(phone, 'STOP');
    await waitFor('PaymentFailed', async () => subjectsOf(id).includes(Notifications.paymentFailed.subject));
    expect(subjectsOf(id))
      .toEqual([Notifications.paymentRequested.subject, Notifications.paymentChallenged.subject, Notifications.paymentFailed.subject]);
    expect(of(id)[2]?.message).toMatchObject({ paymentId: id, detail: 'cancelled' });
  });

  it('no stream stores a payment notification, and none covers their subjects', async () => {
    expect(seen.length).toBeGreaterThanOrEqual(7);
    for (const def of Object.values(Notifications)) await expect(nats.jsm.streams.find(def.subject), def.subject).rejects.toThrow();
    const streams: string[] = [];
    for await (const s of nats.jsm.streams.list()) streams.push(s.config.name);
    expect(streams).not.toContain('PAYMENTS');
    expect(streams).toEqual(expect.arrayContaining(['DEBITS', 'SMS_OUTBOUND']));
    for (const stream of streams) {
      const stored = (await readStored(nats, stream)).filter((m) => m.subject.startsWith(`${NOTIFY_SUBJECT_PREFIX}.`) || m.subject.startsWith('dialpay.payment.'));
      expect(stored, stream).toEqual([]);
    }
    // Nor the outbox: notifications never take a row there.
    expect((await p.pool.query(`SELECT 1 FROM payments.outbox WHERE subject LIKE 'dialpay.notify.%' OR subject LIKE 'dialpay.payment.%'`)).rowCount).toBe(0);
  });

  it('a step whose transaction rolls back publishes nothing; the same step committed publishes once', async () => {
    const phone = '254711800003';
    await p.ask(phone, 'PAY SHOP42 130');
    const id = (await p.pool.query<{ payment_id: string }>('SELECT payment_id FROM payments.payments WHERE payer_msisdn = $1', [phone])).rows[0]?.payment_id as string;
    await waitFor('PaymentChallenged', async () => subjectsOf(id).includes(Notifications.paymentChallenged.subject));
    // The real engine, publishing on this test's connection: what it publishes reaches `seen` before the flush returns.
    const engine = new PaymentEngine({ pool: p.pool, nc: nats.nc, config: p.stack.config, log: quietLogger() });
    const stop = async (client: PoolClient) => {
      const payment = await lockPayment(client, id);
      if (!payment) throw new Error(`no payment ${id}`);
      await engine.step(client, payment, { kind: 'stop' });
    };
    await expect(withTransaction(p.pool, 'READ COMMITTED', async (client) => {
      await stop(client);
      throw new Error('rolled back on purpose');
    })).rejects.toThrow('rolled back on purpose');
    await settled();
    expect(subjectsOf(id)).toEqual([Notifications.paymentRequested.subject, Notifications.paymentChallenged.subject]);
    expect((await p.pool.query<{ state: string }>('SELECT state FROM payments.payments WHERE payment_id = $1', [id])).rows[0]?.state).toBe('challenged');

    await withTransaction(p.pool, 'READ COMMITTED', stop);
    await settled();
    expect(subjectsOf(id))
      .toEqual([Notifications.paymentRequested.subject, Notifications.paymentChallenged.subject, Notifications.paymentFailed.subject]);
  });
});
