// An SmsOutbound the SMSC accepted just as nats-server died (make chaos, nats-kill): the gateway
// could not write its record of the submit (KV) nor settle the message, so JetStream delivers the
// same event again once nats-server is back. The subscriber must get it once, and the submit
// result and the receipt's correlation must still be written.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectNats, newEnvelope, publishEvent, Events, type NatsHandle } from '../../../runtime/nats/index.js';
import type { EventDef, EventMessage } from '../../../runtime/nats/events.js';
import { validateConfig } from '../../../runtime/config/index.js';
import { startHost, type Host } from '../../../runtime/host.js';
import { v1 } from '../../../proto/index.js';
import { gateway } from '../../../gateway/index.js';
import { normalizeMessageId } from '../../../gateway/smpp/receipt.js';
import { SmscSimulator } from '../../../load-tests/operator-sim/smsc.js';
import { setupStack, quietLogger, waitFor, type Stack } from '../../support/stack.js';
import { readEvents } from '../../support/streams.js';

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

/** Events on a stream, or null while this test's own connection is still coming back after the restart. */
async function eventsOf<M extends EventMessage>(stream: string, event: EventDef<M>): Promise<M[] | null> {
  return readEvents(nats, stream, event).catch(() => null);
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

  const result = await waitFor('the submit result', async () =>
    (await eventsOf('SMS_STATUS', Events.smsSubmitResult))?.find((r) => r.messageRef === messageRef), 45_000);
  expect(result.status).toBe(v1.SubmitStatus.SUBMIT_STATUS_ACCEPTED);
  expect(sim.submitted.filter((m) => m.text === text)).toHaveLength(1);
  // Delivered again (the first delivery failed after the submit), and acked without a second submit.
  const metrics = await waitFor('the repeat counted', async () => {
    const text = await gatewayMetrics();
    return metric(text, /dialpay_sms_outbound_duplicates_total\{[^}]*\} (\d+)/g) >= 1 ? text : null;
  }, 15_000);
  expect(metric(metrics, /dialpay_nats_messages_handled_total\{[^}]*consumer="gateway-sms-outbound"[^}]*outcome="retried"[^}]*\} (\d+)/g)).toBeGreaterThanOrEqual(1);
  // The SMSC's id as the first delivery got it (hex on the wire, kept normalised).
  expect(result.smscMessageIds).toEqual([normalizeMessageId(sim.submitted.find((m) => m.text === text)?.messageId ?? '', 'hex')]);
  // The receipt still finds its message: the correlation the first delivery could not write was written.
  const receipt = await waitFor('the receipt', async () =>
    (await eventsOf('SMS_STATUS', Events.deliveryReceipt))?.find((r) => r.smscMessageId === result.smscMessageIds?.[0]), 45_000);
  expect(receipt.messageRef).toBe(messageRef);
}, 120_000);
