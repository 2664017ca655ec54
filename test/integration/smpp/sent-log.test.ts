// The gateways' shared record of sent SMS (gateway/smpp/sent-log.ts) against a
// real nats-server and real gateway replicas: a receipt finds its message on a
// replica that did not send it, and on one started after the senders stopped;
// an SmsOutbound redelivered after its replica died past the record is not sent
// again; a replica that missed batches live finds them by reading the stream,
// as far back as its bound; and a burst costs less than one durable message per SMS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, newEnvelope, publishEvent, Events, Notifications, type NatsHandle } from '../../../runtime/nats/index.js';
import { TOPOLOGY } from '../../../cli/components.js';
import { provisionTopology } from '../../../runtime/nats/provision.js';
import { type Config } from '../../../runtime/config/index.js';
import { validateConfig } from '../../../cli/config.js';
import { startHost, type Host } from '../../../runtime/host.js';
import { freePort } from '../../../runtime/engines/index.js';
import { Registry } from '../../../runtime/metrics.js';
import { gateway } from '../../../gateway/index.js';
import { normalizeMessageId } from '../../../gateway/smpp/codec/index.js';
import { SmppMetrics } from '../../../gateway/smpp/metrics.js';
import { SentIndex } from '../../../gateway/smpp/sent-index.js';
import { SentLog } from '../../../gateway/smpp/sent-log.js';
import { v1, type dialpay } from '../../../proto/index.js';
import { setupStack, quietLogger, waitFor, type Stack } from '../../support/stack.js';
import { listenTo, type NotificationListener } from '../../support/notification-listener.js';
import { ReceiptSmsc } from '../../support/receipt-smsc.js';

const log = quietLogger();
const OPERATOR = 'safaricom-ke';
let stack: Stack;
let smsc: ReceiptSmsc;
let smscPort: number;
let nats: NatsHandle;
let results: NotificationListener<dialpay.v1.ISmsSubmitResult>;
let receipts: NotificationListener<dialpay.v1.IDeliveryReceipt>;
const hosts: Host[] = [];

/** A gateway replica's config: the shared SMSC, its own ports, a short ack wait (a redelivery comes soon). */
async function replicaConfig(): Promise<Config> {
  const raw = structuredClone(stack.rawConfig) as any;
  raw.nats.publishTimeoutMs = 2_000;
  Object.assign(raw.consumers, { ackWaitMs: 3_000, retryDelaysMs: [500] });
  raw.http.opsPorts = { ...raw.http.opsPorts, gateway: await freePort() };
  raw.ussd.http.port = await freePort();
  raw.merchantApi.port = await freePort();
  raw.operators[1].smpp.port = await freePort();
  Object.assign(raw.operators[0].smpp, {
    port: smscPort, bindCount: 1, responseTimeoutMs: 2_000, enquireLinkIntervalMs: 1_000,
    reconnectDelayMsMin: 100, reconnectDelayMsMax: 500,
    submitRetryDelaysMs: [100], throughputPerSecondMax: 5_000, submitIdFormat: 'hex', receiptIdFormat: 'hex',
  });
  return validateConfig(raw);
}

async function startReplica(): Promise<Host> {
  const bound = smsc.sessions.length;
  const host = await startHost(await replicaConfig(), [gateway], { log });
  hosts.push(host);
  await waitFor('the replica bound', async () => smsc.sessions.length === bound + 1);
  return host;
}

async function stopReplica(host: Host): Promise<void> {
  await host.stop();
  hosts.splice(hosts.indexOf(host), 1);
}

function outbound(messageRef: string, text: string) {
  return publishEvent(nats.js, Events.smsOutbound, {
    envelope: newEnvelope({ producer: 'test', eventId: messageRef }), messageRef, operatorId: OPERATOR, toMsisdn: '254700000001', fromAddress: '384', text, receiptRequested: true,
  }, { timeoutMs: 5_000 });
}

const resultOf = (ref: string) => waitFor(`submit result of ${ref}`, async () => results.received.find((r) => r.messageRef === ref), 20_000);
const receiptOf = (smscId: string) => waitFor(`receipt of ${smscId}`, async () => receipts.received.find((r) => r.smscMessageId === smscId), 20_000);
const hexId = (id: string) => normalizeMessageId(id, 'hex');

/** Sum of last_seq over every stream but the input (SMS_OUTBOUND): every durable message written since. */
async function durableWrites(): Promise<{ total: number; smsSent: number }> {
  let total = 0;
  let smsSent = 0;
  for await (const info of nats.jsm.streams.list()) {
    if (info.config.name === 'SMS_OUTBOUND') continue;
    total += info.state.last_seq;
    if (info.config.name === 'SMS_SENT') smsSent = info.state.last_seq;
  }
  return { total, smsSent };
}

beforeAll(async () => {
  stack = await setupStack();
  smsc = new ReceiptSmsc();
  smscPort = await smsc.start();
  nats = await connectNats({ ...stack.config.nats, name: 'test' }, log);
  // Each test stands alone (-t): the streams and the outbound consumer exist before any replica starts.
  await provisionTopology(nats, { ...TOPOLOGY, consumers: TOPOLOGY.consumers.map((c) => (c.durableName === 'gateway-sms-outbound' ? { ...c, ackWaitMs: 3_000 } : c)) }, 1, log);
  results = await listenTo(nats.nc, Notifications.smsSubmitResult);
  receipts = await listenTo(nats.nc, Notifications.deliveryReceipt);
}, 60_000);
afterAll(async () => {
  for (const h of [...hosts]) await h.stop();
  await nats?.close();
  await smsc?.stop();
  await stack?.cleanup();
});

describe('receipts', () => {
  it('find their message on the replica that did not send it, and on a replica started after the senders stopped', async () => {
    const a = await startReplica();
    const b = await startReplica();
    const refs = Array.from({ length: 10 }, (_, i) => `cross-${i}`);
    await Promise.all(refs.map((ref) => outbound(ref, `Paid ${ref}`)));
    await Promise.all(refs.map(resultOf));
    for (const ref of refs) {
      const submit = smsc.submitted.find((s) => s.text === `Paid ${ref}`);
      expect(submit, ref).toBeDefined();
      // On the other replica's bind: its memory has the record only from the sender's batch.
      const other = smsc.sessions.find((s) => s !== submit?.session);
      expect(await smsc.sendReceipt(other, submit?.messageId ?? ''), ref).toBe(0);
      expect((await receiptOf(hexId(submit?.messageId ?? ''))).messageRef, ref).toBe(ref);
    }
    await stopReplica(a);
    await stopReplica(b);
    // A replica that never heard those batches live: it reads them from SMS_SENT at start.
    await startReplica();
    const first = smsc.submitted.find((s) => s.text === 'Paid cross-0');
    const heard = receipts.received.length;
    expect(await smsc.sendReceipt(smsc.sessions[0], first?.messageId ?? '')).toBe(0);
    const again = await waitFor('the receipt on the new replica', async () => receipts.received.slice(heard).find((r) => r.smscMessageId === hexId(first?.messageId ?? '')));
    expect(again.messageRef).toBe('cross-0');
  }, 60_000);
});

describe('a receipt no replica remembers', () => {
  it('for an SMS submitted hours ago: acknowledged at once and notified without its message; a fresh one: the SMSC is asked to retry', async () => {
    if (hosts.length === 0) await startReplica();
    const session = smsc.sessions[0];
    // A handset off for three hours: delivered now, submitted long before anything the index keeps.
    expect(await smsc.sendReceipt(session, 'AB01DE', Date.now() - 3 * 3_600_000)).toBe(0);
    const late = await receiptOf(hexId('AB01DE'));
    expect(late.messageRef).toBe('');
    // Submitted just now: the record may still be on its way from another replica.
    expect(await smsc.sendReceipt(session, 'AB01DF')).toBe(0x00000064); // ESME_RX_T_APPN
  }, 30_000);
});

describe('an SmsOutbound redelivered after its replica died past the record', () => {
  it('is not sent again: the next replica finds the record and only notifies the result', async () => {
    for (const h of [...hosts]) await stopReplica(h);
    const messageRef = 'died-past-record';
    await outbound(messageRef, 'Paid 9.00 to SHOP42, sent by a replica that died');
    // This test is the replica that dies: it takes the delivery, submits (the SMSC's id), writes the
    // record as a gateway does, and dies before its ack.
    const consumer = await nats.js.consumers.get('SMS_OUTBOUND', 'gateway-sms-outbound');
    const delivery = await consumer.next({ expires: 5_000 });
    expect(delivery?.info.deliveryCount).toBe(1);
    const dyingId = hexId('DEAD01');
    const dying = new SentLog({
      nc: nats.nc, js: nats.publisher, jsm: nats.jsm, index: new SentIndex(100, 60_000), publishTimeoutMs: 2_000,
      log, metrics: new SmppMetrics(new Registry()),
    });
    await dying.record({ messageRef, operatorId: OPERATOR, smscIds: [dyingId] });
    await dying.close();
    const submitsBefore = smsc.submitted.length;
    await startReplica();
    // After the ack wait, JetStream delivers it again (deliveryCount 2) to the new replica.
    const result = await resultOf(messageRef);
    expect(result.status).toBe(v1.SubmitStatus.SUBMIT_STATUS_ACCEPTED);
    expect(result.smscMessageIds).toEqual([dyingId]);
    expect(smsc.submitted.length).toBe(submitsBefore);
    expect(smsc.submitted.some((s) => s.text.includes('sent by a replica that died'))).toBe(false);
    // Acked this time: nothing left waiting for the consumer.
    await waitFor('acked', async () => (await nats.jsm.consumers.info('SMS_OUTBOUND', 'gateway-sms-outbound')).num_ack_pending === 0);
    // Its receipt finds it too.
    expect(await smsc.sendReceipt(smsc.sessions[0], 'DEAD01')).toBe(0);
    expect((await receiptOf(dyingId)).messageRef).toBe(messageRef);
  }, 60_000);
});

describe('a replica that missed batches live', () => {
  it('finds them by reading the stream, the newest readBatchesMax batches at most', async () => {
    const metrics = new SmppMetrics(new Registry());
    const writer = new SentLog({
      nc: nats.nc, js: nats.publisher, jsm: nats.jsm, index: new SentIndex(100, 60_000), publishTimeoutMs: 2_000,
      log, metrics, lingerMs: 0,
    });
    // Never started: no subscription, nothing read. Reads at most 3 batches.
    const reader = new SentLog({
      nc: nats.nc, js: nats.publisher, jsm: nats.jsm, index: new SentIndex(100, 60_000), publishTimeoutMs: 2_000,
      log, metrics, readBatchesMax: 3,
    });
    for (let i = 0; i < 5; i++) await writer.record({ messageRef: `missed-${i}`, operatorId: OPERATOR, smscIds: [`M${i}`] }); // one batch each
    expect(reader.smscIdsOf('missed-4')).toBeNull();
    await reader.catchUp(Date.now());
    expect(reader.smscIdsOf('missed-4')).toEqual(['M4']);
    expect(reader.messageRefOf(OPERATOR, 'M2')).toBe('missed-2');
    // Older than the three newest batches: left out, as bounded.
    expect(reader.smscIdsOf('missed-1')).toBeNull();
    // A catch-up started after a miss is not repeated for it; a later miss reads only what is new.
    await writer.record({ messageRef: 'missed-5', operatorId: OPERATOR, smscIds: ['M5'] });
    await reader.catchUp(Date.now());
    expect(reader.smscIdsOf('missed-5')).toEqual(['M5']);
    await writer.close();
  });
});

describe('durable messages per SMS', () => {
  it('is below one in a burst: many sent records share one SMS_SENT message', async () => {
    if (hosts.length === 0) await startReplica();
    const count = 300;
    const before = await durableWrites();
    const refs = Array.from({ length: count }, (_, i) => `burst-${i}`);
    await Promise.all(refs.map((ref) => outbound(ref, `Receipt ${ref}: paid 1.00 KES`)));
    await waitFor('every submit result', async () => new Set(results.received.filter((r) => r.messageRef?.startsWith('burst-')).map((r) => r.messageRef)).size === count, 60_000);
    const after = await durableWrites();
    const perSms = (after.total - before.total) / count;
    console.log(`durable messages per outbound SMS in a burst of ${count}: ${perSms.toFixed(3)} (SMS_SENT batches: ${after.smsSent - before.smsSent})`);
    expect(after.smsSent - before.smsSent).toBeGreaterThan(0);
    // The gateway writes nothing durable but its SMS_SENT batches.
    expect(after.total - before.total).toBe(after.smsSent - before.smsSent);
    expect(perSms).toBeLessThan(1);
    expect(smsc.submitted.filter((s) => s.text.startsWith('Receipt burst-')).length).toBe(count);
  }, 90_000);
});
