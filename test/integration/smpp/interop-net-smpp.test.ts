// Interop with an SMPP implementation we did not write: Net::SMPP (Debian's
// libnet-smpp-perl) as the SMSC our client mode binds to, and as the ESME
// that binds to our server mode. tshark records the whole run and Wireshark's
// SMPP dissector must decode every PDU without a malformed packet.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectNats, newEnvelope, publishEvent, Events, Notifications, type NatsHandle } from '../../../runtime/nats/index.js';
import { validateConfig } from '../../../cli/config.js';
import { startHost, type Host } from '../../../runtime/host.js';
import { freePort } from '../../../runtime/engines/index.js';
import { v1 } from '../../../proto/index.js';
import { gateway } from '../../../gateway/index.js';
import { decodeGsm } from '../../../gateway/smpp/codec/index.js';
import { setupStack, quietLogger, waitFor, ROOT, type Stack } from '../../support/stack.js';
import { readEvents } from '../../support/streams.js';
import { listenTo } from '../../support/notification-listener.js';
import { Capture } from '../../support/tshark.js';

const log = quietLogger();
let stack: Stack;
let host: Host | null = null;
let nats: NatsHandle;
let capture: Capture;
let smscPort: number;
let serverPort: number;

function perl(script: string, args: (string | number)[]) {
  const child = spawn('perl', [`${ROOT}test/interop/${script}`, ...args.map(String)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return {
    lines: () => out.split('\n').filter(Boolean),
    line: (pattern: RegExp, timeoutMs = 20_000) =>
      waitFor(`perl ${script}: ${pattern} (stderr: ${err.slice(-300)})`, async () => out.split('\n').find((l) => pattern.test(l)), timeoutMs),
    exit,
    kill: () => child.kill('SIGKILL'),
  };
}

beforeAll(async () => {
  stack = await setupStack();
  smscPort = await freePort();
  const raw = structuredClone(stack.rawConfig) as any;
  serverPort = raw.operators[1].smpp.port;
  Object.assign(raw.operators[0].smpp, { port: smscPort, bindCount: 1, submitIdFormat: 'decimal', receiptIdFormat: 'decimal', reconnectDelayMsMin: 200, reconnectDelayMsMax: 1_000 });
  capture = await Capture.start([smscPort, serverPort]);
  stack = Object.assign(stack, { interopConfig: validateConfig(raw) });
  nats = await connectNats({ ...stack.config.nats, name: 'test' }, log);
});
afterAll(async () => {
  await host?.stop();
  await nats?.close();
  await stack?.cleanup();
});

it('binds to a Net::SMPP SMSC, takes its message, submits ours, and correlates its receipt', async () => {
  const smsc = perl('net-smpp-smsc.pl', [smscPort, 'dialpay', 'secret1', 'PAY SHOP42 500 perl']);
  await smsc.line(/^LISTENING/);
  host = await startHost((stack as any).interopConfig, [gateway], { log });
  await smsc.line(/^BOUND dialpay/);
  expect(await smsc.line(/^DELIVER_RESP/)).toBe('DELIVER_RESP status=0');
  const inbound = await waitFor('inbound event', async () => (await readEvents(nats, 'SMS_INBOUND', Events.smsInbound)).find((e) => e.text === 'PAY SHOP42 500 perl'));
  expect(inbound.fromMsisdn).toBe('254712345678');

  const text = 'Paid 500.00 KES to SHOP42 {ref €7}';
  const receipts = await listenTo(nats.nc, Notifications.deliveryReceipt);
  await publishEvent(nats.js, Events.smsOutbound, {
    envelope: newEnvelope({ producer: 'test' }), messageRef: 'perl-1', operatorId: 'safaricom-ke', toMsisdn: '254712345678', fromAddress: '384', text, receiptRequested: true,
  }, { timeoutMs: 5_000 });
  const submit = await smsc.line(/^SUBMIT /);
  const [, to, dc, hex] = /^SUBMIT to=(\d+) dc=(\d+) hex=([0-9a-f]*)$/.exec(submit) as RegExpExecArray;
  expect(to).toBe('254712345678');
  expect(dc).toBe('0'); // GSM default alphabet, never data_coding 1
  expect(decodeGsm(Buffer.from(hex as string, 'hex'))).toBe(text);
  const receipt = await waitFor('correlated receipt', async () => receipts.received.find((r) => r.messageRef === 'perl-1'));
  expect(receipt.state).toBe(v1.DeliveryState.DELIVERY_STATE_DELIVERED);

  await host.stop(); // unbinds cleanly
  host = null;
  await smsc.line(/^UNBOUND/);
  expect(await smsc.exit).toBe(0);
});

it('accepts a Net::SMPP ESME in server mode: its submit in, a receipt and our message out', async () => {
  await host?.stop();
  host = await startHost((stack as any).interopConfig, [gateway], { log });
  const esme = perl('net-smpp-esme.pl', [serverPort, 'orangesn', 'secret2', 'SOLDE', 1]);
  try {
    expect(await esme.line(/^SUBMIT_RESP/)).toMatch(/^SUBMIT_RESP status=0 id=[0-9a-f]{12}$/);
    await waitFor('inbound from the ESME', async () => (await readEvents(nats, 'SMS_INBOUND', Events.smsInbound)).find((e) => e.text === 'SOLDE' && e.operatorId === 'orange-sn'));
    await publishEvent(nats.js, Events.smsOutbound, {
      envelope: newEnvelope({ producer: 'test' }), messageRef: 'perl-2', operatorId: 'orange-sn', toMsisdn: '221770000077', fromAddress: '384', text: 'Solde: 1500 XOF',
    }, { timeoutMs: 5_000 });
    expect(await esme.line(/^MT /)).toBe('MT to=221770000077 text=Solde: 1500 XOF');
    expect(await esme.line(/^RECEIPT /)).toMatch(/stat:DELIVRD/);
    expect(await esme.exit).toBe(0);
  } finally {
    esme.kill();
  }
});

it('produces PDUs that Wireshark decodes as valid SMPP', async () => {
  await host?.stop();
  host = null;
  await capture.stop();
  const ids = await capture.commandIds();
  for (const expected of [0x00000009, 0x80000009, 0x00000004, 0x80000004, 0x00000005, 0x80000005, 0x00000006, 0x80000006]) {
    expect(ids, `command_id 0x${expected.toString(16)} in the capture`).toContain(expected);
  }
  expect(await capture.problems()).toEqual([]);
});

it('the Wireshark check is not blind: a truncated PDU in a capture is flagged', async () => {
  host = await startHost((stack as any).interopConfig, [gateway], { log });
  const control = await Capture.start([serverPort]);
  const { RawPeer } = await import('../../support/smpp-peer.js');
  const peer = await RawPeer.connect(serverPort);
  // A submit_sm whose header claims 40 bytes but whose body is a truncated c-string.
  const bad = Buffer.alloc(40, 0x41);
  bad.writeUInt32BE(40, 0);
  bad.writeUInt32BE(0x00000004, 4);
  bad.writeUInt32BE(0, 8);
  bad.writeUInt32BE(31337, 12);
  peer.write(bad);
  await peer.expect((p) => p.sequence_number === 31337); // the session answers and survives
  peer.close();
  await control.stop();
  expect((await control.problems()).length).toBeGreaterThan(0);
});
