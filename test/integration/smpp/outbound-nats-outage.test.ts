// An SmsOutbound the SMSC accepted just as nats-server died (make chaos, nats-kill): the gateway
// could not write its record of the submit (its SMS_SENT batch) nor settle the message, so JetStream
// delivers the same event again once nats-server is back. The subscriber must get it once, the record
// must still be written, and the receipt must find its message.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectNats, newEnvelope, publishEvent, Events, Notifications, type NatsHandle } from '../../../runtime/nats/index.js';
import { validateConfig } from '../../../cli/config.js';
import { startHost, type Host } from '../../../runtime/host.js';
import { gateway } from '../../../gateway/index.js';
import { normalizeMessageId } from '../../../gateway/smpp/codec/index.js';
import { SmscSimulator } from '../../../operator-sim/index.js';
import { setupStack, quietLogger, waitFor, type Stack } from '../../support/stack.js';
import { readStored } from '../../support/streams.js';
import { listenTo } from '../../support/notification-listener.js';
import { decodeSentBatch } from '../../../gateway/smpp/sent-log.js';
import type { SentRecord } from '../../../gateway/smpp/sent-index.js';

const log = quietLogger();
/** The SMSC holds each submit_sm_resp this long: time to kill nats-server under the submit. */
const RESPONSE_DELAY_MS = 1_500;
const RECEIPT_DELAY_MS = 12_000;
let stack: Stack;
let sim: SmscSimulator;
let host: Host;
let nats: NatsHandle;

async function gatewayMetrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${host.opsPorts.gateway}/metrics`)).text();
}

/** The SMS_SENT record of a message, or null (also while this test's own connection is still coming back after the restart). */
async function sentRecordOf(messageRef: string): Promise<SentRecord | null> {
  const stored = await readStored(nats, 'SMS_SENT').catch(() => []);
  for (const m of stored) {
    const record = decodeSentBatch(m.data)?.records.find((r) => r.messageRef === messageRef);
    if (record) return record;
  }
  return null;
}

function metric(text: string, pattern: RegExp): number {
  return [...text.matchAll(pattern)].reduce((n, m) => n + Number(m[1]), 0);
}

beforeAll(async () => {
  stack = await setupStack();
  // The receipt comes well after nats-server is back (the simulator does not resend one refused).
  sim = new SmscSimulator({ systemId: 'dialpay', password: 'secret1', messageIdFormat: 'hex', receiptDelayMs: RECEIPT_DELAY_MS });
  const port = await sim.start();
  const raw = structuredClone(stack.rawConfig) as any;
  raw.nats.publishTimeoutMs = 1_000;
  // Redelivered soon after the outage, whether the lost nak or the ack wait brings it back.
  Object.assign(raw.consumers, { ackWaitMs: 3_000, retryDelaysMs: [500], deliveriesMax: 10 });
  Object.assign(raw.operators[0].smpp, {
    port, bindCount: 1, responseTimeoutMs: 5_000, enquireLinkIntervalMs: 1_000, reconnectDelayMsMin: 100, reconnectDelayMsMax: 500,
    submitRetryDelaysMs: [100], throughputPerSecondMax: 1_000, submitIdFormat: 'hex', receiptIdFormat: 'hex',
  });
  host = await startHost(validateConfig(raw), [gateway], { log });
  nats = await connectNats({ ...stack.config.nats, name: 'test' }, log);
  await waitFor('gateway bound to the SMSC', async () => sim.boundSessions === 1);
}, 60_000);
afterAll(async () => {
  await host?.stop();
  await nats?.close();
  await sim?.stop();
  await stack?.cleanup();
});

it('an SMS accepted by the SMSC while nats-server died is not submitted again when JetStream redelivers it', async () => {
  const text = 'Paid 500.00 KES to SHOP42. Ref NATSKILL.';
  const messageRef = 'nats-kill-1';
  // Receipts are notifications: heard only from when the listener subscribed. It resubscribes after the restart.
  const receipts = await listenTo(nats.nc, Notifications.deliveryReceipt);
  sim.setFaults({ responseDelayMs: RESPONSE_DELAY_MS });
  await publishEvent(nats.js, Events.smsOutbound, {
    envelope: newEnvelope({ producer: 'test', eventId: messageRef }),
    messageRef,
    operatorId: 'safaricom-ke',
    toMsisdn: '254700000991',
    fromAddress: '384',
    text,
    receiptRequested: true,
  }, { timeoutMs: 5_000 });
  // The submit_sm is out and unanswered: the gateway's window holds it.
  await waitFor('submit in flight', async () => metric(await gatewayMetrics(), /dialpay_smpp_window_requests\{[^}]*\} (\d+)/g) > 0, 10_000);
  await stack.nats.kill();
  // The SMSC accepts while nats-server is down; the gateway's writes after the submit fail.
  await waitFor('the SMSC accepted the submit', async () => sim.submitted.some((m) => m.text === text), 10_000);
  sim.setFaults({ responseDelayMs: 0 });
  await new Promise((r) => setTimeout(r, 2_500));
  await stack.nats.restart();

  // The record the first delivery could not write, written by the repeat: the durable proof of the submit.
  const record = await waitFor('the SMS_SENT record', () => sentRecordOf(messageRef), 45_000);
  expect(sim.submitted.filter((m) => m.text === text)).toHaveLength(1);
  // Delivered again (the first delivery failed after the submit), and acked without a second submit.
  const metrics = await waitFor('the repeat counted', async () => {
    const text = await gatewayMetrics();
    return metric(text, /dialpay_sms_outbound_duplicates_total\{[^}]*\} (\d+)/g) >= 1 ? text : null;
  }, 15_000);
  expect(metric(metrics, /dialpay_nats_messages_handled_total\{[^}]*consumer="gateway-sms-outbound"[^}]*outcome="retried"[^}]*\} (\d+)/g)).toBeGreaterThanOrEqual(1);
  // The SMSC's id as the first delivery got it (hex on the wire, kept normalised).
  expect(record.smscIds).toEqual([normalizeMessageId(sim.submitted.find((m) => m.text === text)?.messageId ?? '', 'hex')]);
  // The receipt finds its message.
  const receipt = await waitFor('the receipt', async () => receipts.received.find((r) => r.smscMessageId === record.smscIds[0]), 45_000);
  expect(receipt.messageRef).toBe(messageRef);
  expect(sim.submitted.filter((m) => m.text === text)).toHaveLength(1);
}, 120_000);
