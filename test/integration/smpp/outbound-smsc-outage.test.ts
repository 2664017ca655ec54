// An SMSC outage longer than the consumer's retries would last (issue 17): with no bind up, outbound
// SMS wait (nak'd with a backoff, not failed) instead of going to the dead letters. When the bind
// returns, everything still useful is delivered; a challenge whose expiry passed meanwhile is dropped,
// counted, and never sent. Timings shrunk through config: deliveriesMax 3 with 200 ms retries would
// have dead-lettered every message within about a second of the outage before the change.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { bigIntToInt64, dialpay } from '../../../proto/index.js';
import { connectNats, DLQ_STREAM, effectiveConsumer, Events, newEnvelope, provisionTopology, publishEvent, type NatsHandle } from '../../../runtime/nats/index.js';
import { GATEWAY_SMS_OUTBOUND } from '../../../gateway/consumers.js';
import { validateConfig } from '../../../cli/config.js';
import { startHost, type Host } from '../../../runtime/host.js';
import { gateway } from '../../../gateway/index.js';
import { SmscSimulator } from '../../../operator-sim/index.js';
import { setupStack, quietLogger, waitFor, type Stack } from '../../support/stack.js';

const { SmsKind } = dialpay.v1;
const log = quietLogger();
const OPERATOR = 'safaricom-ke';
/** Longer than deliveriesMax x retryDelaysMs (plus the submit schedule) many times over. */
const OUTAGE_MS = 6_000;
let stack: Stack;
let sim: SmscSimulator;
let port: number;
let host: Host;
let nats: NatsHandle;

const simulator = (p?: number) => new SmscSimulator({ systemId: 'dialpay', password: 'secret1', receiptDelayMs: 10, ...(p ? { port: p } : {}) });

async function gatewayMetrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${host.opsPorts.gateway}/metrics`)).text();
}

/** The sum of a metric's series that carry every one of `labels` (each `name="value"`, comma-separated). */
function metric(text: string, name: string, labels = ''): number {
  const wanted = labels.split(',').filter(Boolean);
  const pattern = new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm');
  return [...text.matchAll(pattern)].filter((m) => wanted.every((l) => (m[1] as string).split(',').includes(l))).reduce((n, m) => n + Number(m[2]), 0);
}

function sms(messageRef: string, text: string, kind: dialpay.v1.SmsKind, expiresAtMs = 0) {
  return publishEvent(nats.js, Events.smsOutbound, {
    envelope: newEnvelope({ producer: 'test', eventId: messageRef }),
    messageRef, operatorId: OPERATOR, toMsisdn: '254700000771', fromAddress: '384', text, receiptRequested: true,
    kind, expiresAtUnixMs: bigIntToInt64(BigInt(expiresAtMs)),
  }, { timeoutMs: 5_000 });
}

beforeAll(async () => {
  stack = await setupStack();
  sim = simulator();
  port = await sim.start();
  const raw = structuredClone(stack.rawConfig) as any;
  // Today's schedule, shrunk: 3 deliveries, 200 ms apart, then the DLQ.
  Object.assign(raw.consumers, { ackWaitMs: 3_000, retryDelaysMs: [200], deliveriesMax: 3 });
  Object.assign(raw.operators[0].smpp, {
    port, bindCount: 1, responseTimeoutMs: 1_000, enquireLinkIntervalMs: 500, reconnectDelayMsMin: 100, reconnectDelayMsMax: 300,
    submitRetryDelaysMs: [50], throughputPerSecondMax: 1_000, bindWaitDelayMsMin: 100, bindWaitDelayMsMax: 400,
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

it('the outbound consumer has no max_deliver: the messages\' own lives bound their waits; one an older release made is updated in place', async () => {
  const info = await nats.jsm.consumers.info(GATEWAY_SMS_OUTBOUND.stream, GATEWAY_SMS_OUTBOUND.durableName);
  expect(info.config.max_deliver).toBe(-1);
  // As an older release left it: max_deliver 10. The next start's provisioning lifts it.
  await nats.jsm.consumers.update(GATEWAY_SMS_OUTBOUND.stream, GATEWAY_SMS_OUTBOUND.durableName, { max_deliver: 10 });
  expect((await nats.jsm.consumers.info(GATEWAY_SMS_OUTBOUND.stream, GATEWAY_SMS_OUTBOUND.durableName)).config.max_deliver).toBe(10);
  await provisionTopology(nats, {
    streams: [], consumers: [effectiveConsumer(GATEWAY_SMS_OUTBOUND, { ackWaitMs: 3_000, deliveriesMax: 3 })], kvBuckets: [],
  }, 1, log);
  expect((await nats.jsm.consumers.info(GATEWAY_SMS_OUTBOUND.stream, GATEWAY_SMS_OUTBOUND.durableName)).config.max_deliver).toBe(-1);
});

it('an SMSC outage longer than the retries: receipts wait and are delivered, an expired challenge is dropped and counted, nothing is dead-lettered', async () => {
  await sim.stop();
  await waitFor('the gateway saw the bind go', async () => metric(await gatewayMetrics(), 'dialpay_smpp_binds_up', `operator="${OPERATOR}"`) === 0, 10_000);
  const outageStartedMs = Date.now();
  await sms('outage-receipt-1', 'Paid 500.00 KES to SHOP42. Ref OUTAGE01.', SmsKind.SMS_KIND_RECEIPT);
  await sms('outage-receipt-2', 'Paid 20.00 KES to SHOP42. Ref OUTAGE02.', SmsKind.SMS_KIND_RECEIPT);
  await sms('outage-notice', 'Your payment of 9.00 KES failed.', SmsKind.SMS_KIND_NOTICE);
  // Dies during the outage: never to be sent. Another still useful when the bind returns.
  await sms('outage-challenge-dead', 'Pay 5.00 KES to SHOP42? Reply YES 4821 within 1 min.', SmsKind.SMS_KIND_CHALLENGE, outageStartedMs + 1_500);
  await sms('outage-challenge-live', 'Pay 6.00 KES to SHOP42? Reply YES 7315 within 2 min.', SmsKind.SMS_KIND_CHALLENGE, outageStartedMs + 120_000);

  // Waiting, and seen waiting, not failing.
  await waitFor('messages counted as waiting', async () => metric(await gatewayMetrics(), 'dialpay_sms_outbound_waiting_messages', `operator="${OPERATOR}"`) >= 4, 5_000);
  await waitFor('the dead challenge dropped', async () => metric(await gatewayMetrics(), 'dialpay_sms_outbound_expired_total', `operator="${OPERATOR}",kind="challenge"`) === 1, 10_000);
  await new Promise((r) => setTimeout(r, Math.max(0, outageStartedMs + OUTAGE_MS - Date.now())));
  const during = await gatewayMetrics();
  // Far more deliveries than deliveriesMax (3): each a wait, none a failure.
  expect(metric(during, 'dialpay_nats_messages_handled_total', 'consumer="gateway-sms-outbound",outcome="waited"')).toBeGreaterThan(4 * 3);
  expect(metric(during, 'dialpay_nats_messages_handled_total', 'consumer="gateway-sms-outbound",outcome="dead_lettered"')).toBe(0);
  expect(metric(during, 'dialpay_sms_outbound_waiting_messages', `operator="${OPERATOR}"`)).toBe(4);
  expect((await nats.jsm.streams.info(DLQ_STREAM)).state.messages).toBe(0);

  // The bind returns (a new SMSC process on the same port).
  sim = simulator(port);
  await sim.start();
  await waitFor('gateway bound again', async () => sim.boundSessions === 1, 10_000);
  const texts = await waitFor('everything still useful delivered', async () => {
    const submitted = sim.submitted.map((m) => m.text);
    return submitted.length >= 4 ? submitted : null;
  }, 15_000);
  expect(texts).toEqual(expect.arrayContaining([
    'Paid 500.00 KES to SHOP42. Ref OUTAGE01.', 'Paid 20.00 KES to SHOP42. Ref OUTAGE02.', 'Your payment of 9.00 KES failed.',
    'Pay 6.00 KES to SHOP42? Reply YES 7315 within 2 min.',
  ]));
  // Settled: the work queue is empty, nothing in the DLQ, the dead challenge never reached a phone.
  await waitFor('SMS_OUTBOUND drained', async () => (await nats.jsm.streams.info('SMS_OUTBOUND')).state.messages === 0, 10_000);
  await new Promise((r) => setTimeout(r, 500));
  expect(sim.submitted.map((m) => m.text).filter((t) => t.includes('YES 4821'))).toEqual([]);
  expect(sim.submitted).toHaveLength(4);
  expect((await nats.jsm.streams.info(DLQ_STREAM)).state.messages).toBe(0);
  const after = await gatewayMetrics();
  expect(metric(after, 'dialpay_sms_outbound_expired_total', `operator="${OPERATOR}",kind="challenge"`)).toBe(1);
  expect(metric(after, 'dialpay_sms_outbound_waiting_messages', `operator="${OPERATOR}"`)).toBe(0);
  expect(metric(after, 'dialpay_nats_messages_handled_total', 'consumer="gateway-sms-outbound",outcome="dead_lettered"')).toBe(0);
}, 60_000);

it('a permanent failure still goes to the DLQ at once', async () => {
  const before = (await nats.jsm.streams.info(DLQ_STREAM)).state.messages;
  // An operator the gateway does not know: permanent, dead-lettered at once as before.
  await publishEvent(nats.js, Events.smsOutbound, {
    envelope: newEnvelope({ producer: 'test', eventId: 'outage-unknown-operator' }),
    messageRef: 'outage-unknown-operator', operatorId: 'nobody', toMsisdn: '254700000772', fromAddress: '384', text: 'hello', kind: SmsKind.SMS_KIND_REPLY,
  }, { timeoutMs: 5_000 });
  await waitFor('the dead letter', async () => (await nats.jsm.streams.info(DLQ_STREAM)).state.messages === before + 1, 10_000);
});
