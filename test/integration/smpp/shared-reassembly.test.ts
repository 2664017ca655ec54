// Long inbound messages whose parts arrive on binds to different gateway replicas (dialpay issue
// 17): two gateways, each with its own NATS connection and SMPP listener, one real nats-server,
// a peer bound to each. The parts meet in the sms_parts KV bucket; exactly one SmsInbound event
// carries the whole text, even when the last parts reach both replicas at the same moment; a
// message that never completes is removed once, logged and counted; a bucket that cannot be
// reached answers a temporary error.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kvm } from '@nats-io/kv';
import { connectNats, newEnvelope, publishEvent, provisionTopology, withReassemblyTimeouts, Events, SMS_PARTS_BUCKET, type NatsHandle } from '../../../runtime/nats/index.js';
import { TOPOLOGY } from '../../../cli/components.js';
import { COMPONENT_NAMES } from '../../../runtime/config/index.js';
import { validateConfig } from '../../../cli/config.js';
import { startNatsServer, freePort, type NatsServerHandle } from '../../../runtime/engines/index.js';
import { startHost, type Host } from '../../../runtime/host.js';
import { createLogger } from '../../../runtime/log.js';
import { gateway } from '../../../gateway/index.js';
import { splitForSubmit } from '../../../gateway/smpp/codec/index.js';
import { reassemblyKey } from '../../../gateway/smpp/reassembly.js';
import { eventually, exampleConfigRaw, quietLogger, waitFor } from '../../support/stack.js';
import { USSD_TEST_SECRET } from '../../support/ussd-phone.js';
import { readEvents } from '../../support/streams.js';
import { RawPeer } from '../../support/smpp-peer.js';

const TIMEOUT_MS = 1_500;
const OK = 0x00;
const T_APPN = 0x64;
const BIND = { system_id: 'orangesn', password: 'secret2', interface_version: 0x34 };
const OPERATOR = 'orange-sn';

interface Replica {
  readonly host: Host;
  readonly peer: RawPeer;
  readonly logLines: string[];
}

let natsServer: NatsServerHandle;
let nats: NatsHandle;
const replicas: Replica[] = [];
let seq = 1_000;
let phone = 0;

async function startReplica(natsUrl: string): Promise<Replica> {
  const raw = exampleConfigRaw() as any;
  raw.nats = { ...raw.nats, url: natsUrl, publishTimeoutMs: 1_000 };
  raw.postgres = { ...raw.postgres, url: 'postgres://unused@127.0.0.1:1/unused' }; // the gateway never opens PostgreSQL
  const opsPorts: Record<string, number> = {};
  for (const name of COMPONENT_NAMES) opsPorts[name] = await freePort();
  raw.http = { host: '127.0.0.1', opsPorts };
  raw.ussd.http.port = await freePort();
  raw.ussd.http.sharedSecret = USSD_TEST_SECRET;
  raw.merchantApi.port = await freePort();
  raw.log = { level: 'warn' };
  raw.operators[0].smpp.reconnectDelayMsMin = 60_000; // the client-mode operator: nothing listens, keep it quiet
  const smpp = raw.operators[1].smpp;
  Object.assign(smpp, { port: await freePort(), reassemblyTimeoutMs: TIMEOUT_MS, responseTimeoutMs: 2_000 });
  const logLines: string[] = [];
  const log = createLogger({ level: 'info', destination: new Writable({ write: (chunk, _e, cb) => (logLines.push(chunk.toString()), cb()) }) });
  const host = await startHost(validateConfig(raw), [gateway], { log });
  const peer = await RawPeer.connect(smpp.port);
  expect((await peer.request('bind_transceiver', BIND, ++seq)).command_status).toBe(OK);
  return { host, peer, logLines };
}

/** The UDH parts of `text` as the peer submits them (the phone's long message, relayed). */
function partsOf(text: string, reference: number) {
  return splitForSubmit(text, 'udh8', reference).map((p) => p as unknown as { dataCoding: number; esmClass: number; shortMessage: Buffer });
}

function submit(replica: Replica, from: string, part: { dataCoding: number; esmClass: number; shortMessage: Buffer }): Promise<number> {
  return replica.peer
    .request('submit_sm', { source_addr: from, source_addr_ton: 1, destination_addr: '384', esm_class: part.esmClass, data_coding: part.dataCoding, short_message: part.shortMessage }, ++seq)
    .then((resp) => resp.command_status);
}

async function eventsWith(text: string) {
  return (await readEvents(nats, 'SMS_INBOUND', Events.smsInbound)).filter((e) => e.text === text);
}

const nextPhone = () => `22177${String(1_000_000 + ++phone).slice(-7)}`;
const longText = (tag: string) => `PAY SHOP42 1500 ${tag} `.padEnd(200, 'x') + ' end';

beforeAll(async () => {
  natsServer = await startNatsServer();
  replicas.push(await startReplica(natsServer.url));
  replicas.push(await startReplica(natsServer.url));
  nats = await connectNats({ url: natsServer.url, name: 'reassembly-test', connectTimeoutMs: 5_000, reconnectWaitMs: 200, reconnectAttemptsMax: 50, publishTimeoutMs: 5_000 }, quietLogger());
}, 60_000);
afterAll(async () => {
  for (const r of replicas) r.peer.close();
  for (const r of replicas) await r.host.stop();
  await nats?.close();
  await natsServer?.stop();
});

describe('parts on binds to different replicas', () => {
  it('joins them: each part answered once stored, one event with the whole text, published by the replica with the last part', async () => {
    const [a, b] = replicas as [Replica, Replica];
    const from = nextPhone();
    const text = longText('two-replicas');
    const [p1, p2] = partsOf(text, 41);
    expect(await submit(a, from, p1!)).toBe(OK);
    // Stored, not published: a partial command never reaches payments.
    expect(await readEvents(nats, 'SMS_INBOUND', Events.smsInbound)).toEqual([]);
    expect(await submit(b, from, p2!)).toBe(OK);
    const events = await eventsWith(text);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ operatorId: OPERATOR, fromMsisdn: from, toAddress: '384' });
    // A retransmit of a part after the message went out is acknowledged, and nothing is published again.
    expect(await submit(a, from, p1!)).toBe(OK);
    expect(await eventsWith(text)).toHaveLength(1);
    // The bucket no longer holds the text.
    const kv = await new Kvm(nats.js).open(SMS_PARTS_BUCKET);
    const entry = await kv.get(reassemblyKey(OPERATOR, from, '384', 41, 2));
    expect(Buffer.from(entry!.value).toString('utf8')).toContain('"s":"published"');
    expect(Buffer.from(entry!.value).toString('utf8')).not.toContain(p1!.shortMessage.subarray(6).toString('base64').slice(0, 12));
  });

  it('publishes exactly once when the last two parts reach both replicas at the same moment', async () => {
    const [a, b] = replicas as [Replica, Replica];
    const texts: string[] = [];
    for (let round = 0; round < 12; round++) {
      const from = nextPhone();
      const text = longText(`race-${round}`) + 'y'.repeat(200); // three parts
      texts.push(text);
      const [p1, p2, p3] = partsOf(text, 100 + round);
      expect(await submit(round % 2 ? a : b, from, p1!)).toBe(OK);
      const statuses = await Promise.all([submit(a, from, p2!), submit(b, from, p3!)]);
      expect(statuses).toEqual([OK, OK]);
    }
    for (const text of texts) expect(await eventsWith(text), text.slice(0, 24)).toHaveLength(1);
  });

  it('publishes exactly once when the same last part reaches both at once; the one told to retry is acknowledged on its retry', async () => {
    const [a, b] = replicas as [Replica, Replica];
    const from = nextPhone();
    const text = longText('same-last-part');
    const [p1, p2] = partsOf(text, 77);
    expect(await submit(a, from, p1!)).toBe(OK);
    const statuses = await Promise.all([submit(a, from, p2!), submit(b, from, p2!)]);
    expect(statuses).toContain(OK);
    for (const s of statuses) expect([OK, T_APPN]).toContain(s);
    const retried = statuses[0] === OK ? b : a;
    await waitFor('the retry acknowledged', async () => (await submit(retried, from, p2!)) === OK);
    expect(await eventsWith(text)).toHaveLength(1);
  });
});

describe('a claim whose publish failed', () => {
  it('is published again under the same event id when the SMSC retries the part, once the claimer\'s grace is over', async () => {
    const [a, b] = replicas as [Replica, Replica];
    const from = nextPhone();
    const text = longText('publish-failed');
    const [p1, p2] = partsOf(text, 88);
    expect(await submit(a, from, p1!)).toBe(OK);
    // SMS_INBOUND refuses anything more (full, discard new): the claim is made, its publish fails.
    // One message at least in it first: a max_msgs of 0 would mean no limit.
    await publishEvent(nats.js, Events.smsInbound, { envelope: newEnvelope({ producer: 'test' }), operatorId: OPERATOR, fromMsisdn: '221770000000', toAddress: '384', text: 'filler', smscMessageId: '', bindId: 'test' }, { timeoutMs: 5_000 });
    const stream = await nats.jsm.streams.info('SMS_INBOUND');
    await nats.jsm.streams.update('SMS_INBOUND', { ...stream.config, max_msgs: stream.state.messages });
    try {
      expect(await submit(b, from, p2!)).toBe(T_APPN);
      expect(await submit(a, from, p2!)).toBe(T_APPN); // claimed a moment ago: left to its claimer
    } finally {
      await nats.jsm.streams.update('SMS_INBOUND', stream.config);
    }
    expect(await eventsWith(text)).toEqual([]);
    // The SMSC keeps retrying the part it was refused; after the grace (2 x publishTimeoutMs) a replica publishes it.
    await waitFor('the retried part acknowledged', async () => (await submit(a, from, p2!)) === OK, 10_000);
    expect(await submit(b, from, p2!)).toBe(OK);
    const events = await eventsWith(text);
    expect(events).toHaveLength(1);
    const record = await (await new Kvm(nats.js).open(SMS_PARTS_BUCKET)).get(reassemblyKey(OPERATOR, from, '384', 88, 2));
    expect(JSON.parse(Buffer.from(record!.value).toString('utf8'))).toMatchObject({ s: 'published', e: events[0]!.envelope!.eventId });
  });
});

describe('a message that never completes', () => {
  it('is removed after reassemblyTimeoutMs by one replica, logged once and counted; nothing is published', async () => {
    const [a, b] = replicas as [Replica, Replica];
    const from = nextPhone();
    const text = longText('never-whole') + 'z'.repeat(200); // three parts; the third never comes
    const [p1, p2] = partsOf(text, 201);
    const logged = () => replicas.flatMap((r) => r.logLines).filter((l) => l.includes('long message timed out unassembled'));
    const before = logged().length;
    expect(await submit(a, from, p1!)).toBe(OK);
    expect(await submit(b, from, p2!)).toBe(OK); // both replicas note it
    const kv = await new Kvm(nats.js).open(SMS_PARTS_BUCKET);
    const key = reassemblyKey(OPERATOR, from, '384', 201, 3);
    expect((await kv.get(key))?.operation).toBe('PUT');
    await waitFor('the timeout logged', async () => logged().length > before, TIMEOUT_MS + 5_000);
    await new Promise((r) => setTimeout(r, 1_500)); // both replicas' sweeps have run since
    const lines = logged().slice(before);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ operator: OPERATOR, partsReceived: 2, partsTotal: 3 });
    expect(lines[0]).not.toContain(from); // no number in the log, no text
    expect((await kv.get(key))?.operation).toBe('PURGE');
    const expired = await Promise.all(replicas.map(async (r) => {
      const metrics = await (await fetch(`http://127.0.0.1:${r.host.opsPorts.gateway}/metrics`)).text();
      return Number(/dialpay_smpp_reassembly_parts_expired_total\{[^}]*operator="orange-sn"[^}]*\} (\d+)/.exec(metrics)?.[1] ?? NaN);
    }));
    expect(expired.reduce((n, v) => n + v, 0)).toBe(2);
    expect(await readEvents(nats, 'SMS_INBOUND', Events.smsInbound).then((all) => all.filter((e) => e.fromMsisdn === from))).toEqual([]);
  });
});

describe('the bucket', () => {
  it('outlives the longest reassembly timeout, and provisioning follows a changed one', async () => {
    const ttlMs = async () => (await nats.jsm.streams.info(`KV_${SMS_PARTS_BUCKET}`)).config.max_age / 1_000_000;
    expect(await ttlMs()).toBe(20_000); // safaricom-ke keeps the 10 s default: twice that
    await provisionTopology(nats, withReassemblyTimeouts(TOPOLOGY, [10_000, 45_000]), 1, quietLogger());
    expect(await ttlMs()).toBe(90_000);
    await provisionTopology(nats, withReassemblyTimeouts(TOPOLOGY, [10_000, TIMEOUT_MS]), 1, quietLogger());
    expect(await ttlMs()).toBe(20_000);
  });
});

describe('the bucket unreachable', () => {
  it('answers a part ESME_RX_T_APPN so the SMSC retries; the retry is stored once NATS is back', async () => {
    const [a, b] = replicas as [Replica, Replica];
    const from = nextPhone();
    const text = longText('outage');
    const [p1, p2] = partsOf(text, 55);
    await natsServer.stop();
    try {
      expect(await submit(a, from, p1!)).toBe(T_APPN);
    } finally {
      await natsServer.restart();
    }
    await waitFor('part 1 stored after NATS returns', async () => (await submit(a, from, p1!)) === OK, 30_000);
    // Replica b reconnects on its own schedule: until then it too answers T_APPN, and the SMSC retries.
    await waitFor('part 2 stored once replica b is back on NATS', async () => (await submit(b, from, p2!)) === OK, 30_000);
    // The test's own connection reconnects on its own schedule, and a JetStream API request before it does times out.
    expect(await eventually(() => eventsWith(text), 20_000)).toHaveLength(1);
  }, 60_000);
});
