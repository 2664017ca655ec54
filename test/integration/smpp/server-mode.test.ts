// Server mode: an operator's SMSC or an aggregator binds to us. Credentials,
// bind limits and bind state are enforced; bad PDUs get generic_nack and the
// session survives; the peer's submit_sm is durable before its resp; our
// messages go out as deliver_sm; receipts go back when the peer asks.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, newEnvelope, publishEvent, Events, Notifications, type NatsHandle } from '../../../runtime/nats/index.js';
import { validateConfig } from '../../../cli/config.js';
import { startHost, type Host } from '../../../runtime/host.js';
import { createLogger } from '../../../runtime/log.js';
import { v1 } from '../../../proto/index.js';
import { gateway } from '../../../gateway/index.js';
import { encodePdu } from '../../../gateway/smpp/codec/index.js';
import { allowList, normalizeRemote } from '../../../gateway/edge-auth/index.js';
import { setupStack, quietLogger, waitFor, type Stack } from '../../support/stack.js';
import { readEvents } from '../../support/streams.js';
import { listenTo } from '../../support/notification-listener.js';
import { RawPeer } from '../../support/smpp-peer.js';

const logLines: string[] = [];
const log = createLogger({
  level: 'info',
  destination: new Writable({ write: (chunk, _e, cb) => (logLines.push(chunk.toString()), cb()) }),
});
let stack: Stack;
let host: Host;
let nats: NatsHandle;
let port: number;
const BIND = { system_id: 'orangesn', password: 'secret2', interface_version: 0x34 };
let seq = 100;

async function boundPeer(command = 'bind_transceiver'): Promise<RawPeer> {
  const peer = await RawPeer.connect(port);
  const resp = await peer.request(command, BIND, ++seq);
  expect(resp.command_status).toBe(0);
  return peer;
}

beforeAll(async () => {
  stack = await setupStack();
  const raw = structuredClone(stack.rawConfig) as any;
  raw.operators[0].smpp.reconnectDelayMsMin = 60_000; // client-mode operator: nothing listens, keep it quiet
  Object.assign(raw.operators[1].smpp, { bindsMax: 2, responseTimeoutMs: 1_000, bindTimeoutMs: 1_000 });
  port = raw.operators[1].smpp.port;
  host = await startHost(validateConfig(raw), [gateway], { log });
  nats = await connectNats({ ...stack.config.nats, name: 'test' }, quietLogger());
});
afterAll(async () => {
  await host?.stop();
  await nats?.close();
  await stack?.cleanup();
});

describe('binding', () => {
  it('refuses a wrong password with ESME_RBINDFAIL, counts it, never logs the password', async () => {
    const peer = await RawPeer.connect(port);
    const resp = await peer.request('bind_transceiver', { ...BIND, password: 'Wr0ngPw' }, ++seq);
    expect(resp.command_status).toBe(0x0d);
    expect(logLines.join('')).toContain('"reason":"password"');
    expect(logLines.join('')).not.toContain('Wr0ngPw');
    const metrics = await (await fetch(`http://127.0.0.1:${host.opsPorts.gateway}/metrics`)).text();
    expect(metrics).toMatch(/dialpay_smpp_bind_failures_total\{[^}]*reason="password"[^}]*\} 1/);
    peer.close();
  });

  it('refuses an unknown system_id and a bind over the limit', async () => {
    const stranger = await RawPeer.connect(port);
    expect((await stranger.request('bind_transceiver', { ...BIND, system_id: 'intruder' }, ++seq)).command_status).toBe(0x0d);
    stranger.close();
    const a = await boundPeer();
    const b = await boundPeer('bind_receiver');
    const c = await RawPeer.connect(port);
    expect((await c.request('bind_transmitter', BIND, ++seq)).command_status).toBe(0x0d);
    expect((await a.request('bind_transceiver', BIND, ++seq)).command_status).toBe(0x05); // ESME_RALYBND
    [a, b, c].forEach((p) => p.close());
  });

  it('checks addresses against the allow list, IPv4-mapped IPv6 included', () => {
    const list = allowList(['127.0.0.1/32', '10.20.0.0/16', '::1/128']);
    expect(list.check(normalizeRemote('::ffff:127.0.0.1'), 'ipv4')).toBe(true);
    expect(list.check('10.20.3.4', 'ipv4')).toBe(true);
    expect(list.check('10.21.3.4', 'ipv4')).toBe(false);
    expect(list.check('::1', 'ipv6')).toBe(true);
  });
});

describe('hostile peers', () => {
  it('answers outbind with generic_nack and ignores alert_notification, and the process lives', async () => {
    const unbound = await RawPeer.connect(port);
    const outbind = encodePdu('enquire_link', { sequence_number: 501 });
    outbind.writeUInt32BE(0x0000000b, 4); // outbind: the package cannot encode an outbind_resp
    unbound.write(outbind);
    expect((await unbound.expect((p) => p.sequence_number === 501)).command).toBe('generic_nack');
    unbound.close();
    const peer = await boundPeer();
    const alert = encodePdu('enquire_link', { sequence_number: 502 });
    alert.writeUInt32BE(0x00000102, 4); // alert_notification, empty body
    peer.write(alert);
    expect((await peer.request('enquire_link', {}, ++seq)).command_status).toBe(0);
    expect(peer.received.some((p) => p.sequence_number === 502)).toBe(false); // no answer to an alert
    peer.close();
  });

  it('does not leak a bind slot when the peer leaves while its password is checked', async () => {
    for (let i = 0; i < 3; i++) {
      const quitter = await RawPeer.connect(port);
      quitter.send('bind_transceiver', { ...BIND, sequence_number: ++seq });
      quitter.close(); // gone before scrypt finishes
    }
    await new Promise((r) => setTimeout(r, 300));
    const a = await boundPeer();
    const b = await boundPeer(); // bindsMax is 2: both slots are still free
    a.close();
    b.close();
  });

  it('refuses a second bind PDU sent while the first is being checked', async () => {
    const peer = await RawPeer.connect(port);
    peer.send('bind_transceiver', { ...BIND, sequence_number: 601 });
    peer.send('bind_transceiver', { ...BIND, sequence_number: 602 });
    expect((await peer.expect((p) => p.sequence_number === 601)).command_status).toBe(0);
    expect((await peer.expect((p) => p.sequence_number === 602)).command_status).toBe(0x05);
    peer.close();
  });

  it('closes a connection that never binds, and one whose bind was refused', async () => {
    const idle = await RawPeer.connect(port);
    await waitFor('idle connection closed', async () => idle.closed, 5_000);
    const wrong = await RawPeer.connect(port);
    expect((await wrong.request('bind_transceiver', { ...BIND, password: 'nope' }, ++seq)).command_status).toBe(0x0d);
    await waitFor('refused connection closed', async () => wrong.closed, 5_000);
  });
});

describe('bad input', () => {
  it('answers PDUs before bind with ESME_RINVBNDSTS', async () => {
    const peer = await RawPeer.connect(port);
    expect((await peer.request('submit_sm', { destination_addr: '384', short_message: Buffer.from('BAL') }, ++seq)).command_status).toBe(0x04);
    peer.close();
  });

  it('answers a bad command_length and an unknown command with generic_nack, and the session survives', async () => {
    const peer = await boundPeer();
    const bad = Buffer.alloc(16);
    bad.writeUInt32BE(8, 0); // command_length under the 16-byte header
    bad.writeUInt32BE(0x15, 4);
    bad.writeUInt32BE(777, 12);
    peer.write(bad);
    const nack = await peer.expect((p) => p.command === 'generic_nack' && p.sequence_number === 777);
    expect(nack.command_status).toBe(0x02); // ESME_RINVCMDLEN
    const unknown = Buffer.from('00000010000000ff00000000000003e7', 'hex');
    peer.write(unknown);
    expect((await peer.expect((p) => p.command === 'generic_nack' && p.sequence_number === 999)).command_status).toBe(0x03);
    expect((await peer.request('enquire_link', {}, ++seq)).command_status).toBe(0);
    expect(peer.closed).toBe(false);
    peer.close();
  });

  it('refuses a submit_sm whose sm_length or C-string runs past its body, publishes nothing for it, and takes the next good one', async () => {
    const peer = await boundPeer();
    const fields = { source_addr: '221770000009', source_addr_ton: 1, destination_addr: '384' };
    // sm_length says 200; 'SOLDE LONG' (10 bytes) follows. The codec alone would publish 'SOLDE LONG'.
    const overlong = encodePdu('submit_sm', { ...fields, sequence_number: 701, short_message: Buffer.from('SOLDE LONG') });
    overlong[overlong.length - 11] = 200;
    peer.write(overlong);
    const refused = await peer.expect((p) => p.sequence_number === 701);
    expect([refused.command, refused.command_status]).toEqual(['submit_sm_resp', 0x01]); // ESME_RINVMSGLEN
    // A body that stops inside source_addr: no NUL before the end.
    const good = encodePdu('submit_sm', { ...fields, sequence_number: 702, short_message: Buffer.from('SOLDE CUT') });
    const cut = Buffer.from(good.subarray(0, 16 + 1 + 2 + 5));
    cut.writeUInt32BE(cut.length, 0);
    peer.write(cut);
    const nack = await peer.expect((p) => p.sequence_number === 702);
    expect([nack.command, nack.command_status]).toEqual(['generic_nack', 0x02]); // ESME_RINVCMDLEN
    // The session lives on and the next good PDU is a message.
    const ok = await peer.request('submit_sm', { ...fields, short_message: Buffer.from('SOLDE OK') }, 703);
    expect(ok.command_status).toBe(0);
    const texts = await waitFor('the good SMS published', async () => {
      const events = (await readEvents(nats, 'SMS_INBOUND', Events.smsInbound)).filter((e) => e.fromMsisdn === '221770000009').map((e) => e.text);
      return events.includes('SOLDE OK') ? events : null;
    });
    expect(texts).toEqual(['SOLDE OK']);
    expect(peer.closed).toBe(false);
    expect(logLines.join('')).toContain('"fault":"sm-length"');
    peer.close();
  });

  it('answers an unknown short code with ESME_RINVDSTADR', async () => {
    const peer = await boundPeer();
    const resp = await peer.request('submit_sm', { source_addr: '221770000001', source_addr_ton: 1, destination_addr: '12345', short_message: Buffer.from('BAL') }, ++seq);
    expect(resp.command_status).toBe(0x0b);
    peer.close();
  });
});

describe('traffic', () => {
  it("turns the peer's submit_sm into an inbound SMS, answers with a message id, and sends the receipt it asked for", async () => {
    const peer = await boundPeer();
    const resp = await peer.request('submit_sm', {
      source_addr: '221770000002', source_addr_ton: 1, destination_addr: '384', registered_delivery: 1, data_coding: 8,
      short_message: Buffer.from('0053004f004c00440045', 'hex'), // "SOLDE" in UCS-2
    }, ++seq);
    expect(resp.command_status).toBe(0);
    expect(String(resp.message_id)).toMatch(/^[0-9a-f]{12}$/);
    const inbound = (await readEvents(nats, 'SMS_INBOUND', Events.smsInbound)).find((e) => e.text === 'SOLDE');
    expect(inbound).toMatchObject({ operatorId: 'orange-sn', fromMsisdn: '221770000002', toAddress: '384' });
    const receipt = await peer.expect((p) => p.command === 'deliver_sm' && (Number(p.esm_class) & 0x04) === 0x04);
    expect(receipt.receipted_message_id).toBe(resp.message_id);
    expect(receipt.message_state).toBe(2);
    peer.send('deliver_sm_resp', { sequence_number: receipt.sequence_number });
    peer.close();
  });

  it('sends our messages to subscribers as deliver_sm over a receiver bind', async () => {
    const peer = await boundPeer('bind_receiver');
    const submitResults = await listenTo(nats.nc, Notifications.smsSubmitResult);
    await publishEvent(nats.js, Events.smsOutbound, {
      envelope: newEnvelope({ producer: 'test' }), messageRef: 'srv-1', operatorId: 'orange-sn', toMsisdn: '221770000003', fromAddress: '384', text: 'Votre solde: 1 500 XOF',
    }, { timeoutMs: 5_000 });
    const deliver = await peer.expect('deliver_sm', 10_000);
    expect(deliver.destination_addr).toBe('221770000003');
    expect(Buffer.from(deliver.short_message as Buffer).toString('latin1')).toBe('Votre solde: 1 500 XOF');
    peer.send('deliver_sm_resp', { sequence_number: deliver.sequence_number });
    const result = await waitFor('submit result', async () =>
      submitResults.received.find((r) => r.messageRef === 'srv-1'),
    );
    expect(result.status).toBe(v1.SubmitStatus.SUBMIT_STATUS_ACCEPTED);
    peer.close();
  });
});

it('does not answer with a bare socket close on garbage: a PDU of random bytes gets generic_nack', async () => {
  const peer = await boundPeer();
  const garbage = encodePdu('enquire_link', { sequence_number: 4242 });
  garbage.writeUInt32BE(0x0000ab12, 4); // unknown command id
  peer.write(garbage);
  expect((await peer.expect((p) => p.sequence_number === 4242)).command).toBe('generic_nack');
  peer.close();
});
