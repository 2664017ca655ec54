// Webhooks end to end: a payment requested over the merchant API completes
// (or fails) and the merchant's endpoint gets a signed JSON event. An
// endpoint that fails and then recovers receives each event exactly once
// after dedup by event id; one that stays down past the last retry gets it
// after `dialpay webhooks replay`.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { newApiKey } from '../../../runtime/api-keys.js';
import { freePort } from '../../../runtime/engines/index.js';
import { connectNats, DLQ_STREAM, type NatsHandle } from '../../../runtime/nats/index.js';
import { replayDeadLetters, verifySignature } from '../../../services/webhooks/index.js';
import { startPaymentsStack, type PaymentsStack } from '../../support/payments-stack.js';
import { quietLogger, waitFor } from '../../support/stack.js';

const SECRET = 'whsec-test-0123456789abcdef';
let p: PaymentsStack;
let api: string;
let receiver: Server;
let nats: NatsHandle;
const key = newApiKey();
const carrier = new SimulatedCarrier({ openingBalanceMinor: 1_000_000n });
let phoneNo = 0;
const newPhone = () => `2547550${String(++phoneNo).padStart(5, '0')}`;

interface Received { eventId: string; body: string; signature: string; status: number }
const attempts: Received[] = [];
/** Dedup as a merchant should: by event id, first accepted wins. */
const accepted = new Map<string, { body: Record<string, any>; raw: string; signature: string }>();
let failuresLeft = 0;

async function requestPayment(amountMinor: number, reference: string): Promise<{ id: string; phone: string }> {
  const phone = newPhone();
  const res = await fetch(`${api}/v1/payment-requests`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key.key}`, 'idempotency-key': `wh-${reference}`, 'content-type': 'application/json' },
    body: JSON.stringify({ msisdn: `+${phone}`, amountMinor, currency: 'KES', reference }),
  });
  expect(res.status).toBe(201);
  return { id: ((await res.json()) as { id: string }).id, phone };
}

async function payIt(phone: string): Promise<void> {
  const challenge = await waitFor('challenge', async () => p.sim.submitted.find((m) => m.destination === phone && /YES \d{4}/.test(m.text))?.text);
  expect(await p.ask(phone, `YES ${/YES (\d{4})/.exec(challenge)?.[1]}`)).toMatch(/^Paid /);
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const eventId = String(req.headers['dialpay-event-id']);
      const signature = String(req.headers['dialpay-signature']);
      const status = failuresLeft > 0 ? 500 : 200;
      if (failuresLeft > 0) failuresLeft--;
      attempts.push({ eventId, body: raw, signature, status });
      if (status === 200 && !accepted.has(eventId)) accepted.set(eventId, { body: JSON.parse(raw), raw, signature });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const hookPort = (receiver.address() as AddressInfo).port;
  const apiPort = await freePort();
  api = `http://127.0.0.1:${apiPort}`;
  p = await startPaymentsStack(carrier, (raw) => {
    raw.merchantApi = { port: apiPort };
    raw.merchants[0].apiKeys = [key.stored];
    raw.merchants[0].webhookUrl = `http://127.0.0.1:${hookPort}/hooks`;
    raw.merchants[0].webhookSecret = SECRET;
    raw.consumers.webhookRetryDelaysMs = [200, 400];
  });
  nats = await connectNats({ ...p.stack.config.nats, name: 'webhooks-test' }, quietLogger());
});
afterAll(async () => {
  await nats?.close();
  await p?.cleanup();
  await new Promise<void>((resolve) => receiver?.close(() => resolve()));
});

describe('webhooks', () => {
  it('payment.completed reaches an endpoint that failed twice, exactly once after dedup, signed', async () => {
    failuresLeft = 2;
    const { id, phone } = await requestPayment(12_000, 'WH-1');
    await payIt(phone);
    const eventId = `${id}:merchant:completed`;
    const got = await waitFor('webhook accepted', async () => accepted.get(eventId), 20_000);
    const tries = attempts.filter((a) => a.eventId === eventId);
    expect(tries.map((a) => a.status)).toEqual([500, 500, 200]);
    // Every try carries the same event, and a signature the documented recipe accepts.
    expect(new Set(tries.map((a) => JSON.parse(a.body).id))).toEqual(new Set([eventId]));
    expect(verifySignature(SECRET, got.raw, got.signature, Math.floor(Date.now() / 1000))).toBe(true);
    expect(verifySignature('another-secret-000000', got.raw, got.signature, Math.floor(Date.now() / 1000))).toBe(false);
    expect(verifySignature(SECRET, got.raw.replace('12000', '12001'), got.signature, Math.floor(Date.now() / 1000))).toBe(false);
    expect(verifySignature(SECRET, got.raw, got.signature, Math.floor(Date.now() / 1000) + 3_600)).toBe(false); // too old: refused
    expect(got.body).toMatchObject({ id: eventId, type: 'payment.completed', data: { payment: { id, status: 'completed', amountMinor: 12_000, currency: 'KES', reference: 'WH-1', msisdn: `+${phone}` } } });
  });

  it('payment.failed when the payer cancels with STOP', async () => {
    const { id, phone } = await requestPayment(3_000, 'WH-2');
    await waitFor('challenge', async () => p.sim.submitted.find((m) => m.destination === phone && /YES \d{4}/.test(m.text)));
    await p.ask(phone, 'STOP');
    const got = await waitFor('failed webhook', async () => accepted.get(`${id}:merchant:failed`), 20_000);
    expect(got.body).toMatchObject({ type: 'payment.failed', data: { payment: { id, status: 'failed', failureReason: 'cancelled' } } });
  });

  it('payment.refunded carries the refund and the payment\'s refunded total', async () => {
    failuresLeft = 0;
    const { id, phone } = await requestPayment(8_000, 'WH-4');
    await payIt(phone);
    await waitFor('completed webhook', async () => accepted.get(`${id}:merchant:completed`), 20_000);
    const res = await fetch(`${api}/v1/payments/${id}/refunds`, {
      method: 'POST', headers: { authorization: `Bearer ${key.key}`, 'idempotency-key': `rf-${id}`, 'content-type': 'application/json' }, body: JSON.stringify({ amountMinor: 3_000 }),
    });
    expect(res.status).toBe(201);
    const refundId = ((await res.json()) as { refund: { id: string } }).refund.id;
    const got = await waitFor('refunded webhook', async () => accepted.get(`${refundId}:merchant:refunded`), 20_000);
    expect(got.body).toMatchObject({ type: 'payment.refunded', data: { payment: { id, refundedMinor: 3_000, amountMinor: 8_000 }, refund: { id: refundId, status: 'completed', amountMinor: 3_000 } } });
  });

  it('an endpoint down past the last retry gets the event after `webhooks replay`, with the same event id', async () => {
    failuresLeft = 1_000;
    const { id, phone } = await requestPayment(4_000, 'WH-3');
    await payIt(phone);
    const eventId = `${id}:merchant:completed`;
    // One delivery and two retries, then the DLQ.
    await waitFor('dead-lettered', async () => (await nats.jsm.streams.info(DLQ_STREAM)).state.messages > 0, 20_000);
    expect(attempts.filter((a) => a.eventId === eventId).length).toBe(3);
    expect(accepted.has(eventId)).toBe(false);
    failuresLeft = 0;
    expect(await replayDeadLetters(nats, { timeoutMs: 5_000 })).toBe(1);
    const got = await waitFor('replayed webhook', async () => accepted.get(eventId), 20_000);
    expect(got.body.id).toBe(eventId);
    expect((await nats.jsm.streams.info(DLQ_STREAM)).state.messages).toBe(0);
    expect(await replayDeadLetters(nats, { timeoutMs: 5_000 })).toBe(0);
  });
});
