// Interop with Kannel (Debian's kannel package): its bearerbox binds to our
// server mode as a transceiver ESME. A message sent through Kannel's sendsms
// interface arrives as its submit_sm and becomes an inbound SMS event; our
// message to a subscriber reaches Kannel as deliver_sm, with the receipt
// Kannel asked for.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectNats, newEnvelope, publishEvent, Events, type NatsHandle } from '../../../runtime/nats/index.js';
import { validateConfig } from '../../../cli/config.js';
import { startHost, type Host } from '../../../runtime/host.js';
import { findBinary, freePort } from '../../../runtime/engines/index.js';
import { gateway } from '../../../gateway/index.js';
import { setupStack, quietLogger, waitFor, type Stack } from '../../support/stack.js';
import { readEvents } from '../../support/streams.js';

const log = quietLogger();
let stack: Stack;
let host: Host;
let nats: NatsHandle;
const children: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'dialpay-kannel-'));
let sendsmsPort: number;

function kannelConfig(serverPort: number, adminPort: number, smsboxPort: number): string {
  return `
group = core
admin-port = ${adminPort}
admin-password = adminpw
smsbox-port = ${smsboxPort}
log-file = "${dir}/bearerbox.log"
log-level = 0
access-log = "${dir}/access.log"
dlr-storage = internal

group = smsc
smsc = smpp
smsc-id = dialpay
host = 127.0.0.1
port = ${serverPort}
transceiver-mode = true
smsc-username = orangesn
smsc-password = secret2
system-type = ""
source-addr-ton = 1
source-addr-npi = 1
dest-addr-ton = 0
dest-addr-npi = 0
enquire-link-interval = 30
reconnect-delay = 1
msg-id-type = 0x03

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = ${smsboxPort}
sendsms-port = ${sendsmsPort}
log-file = "${dir}/smsbox.log"
log-level = 0

group = sendsms-user
username = tester
password = foobar

group = sms-service
keyword = default
text = "unused"
max-messages = 0
`;
}

beforeAll(async () => {
  expect(findBinary('bearerbox'), 'kannel (Debian package) must be installed by make setup').not.toBeNull();
  stack = await setupStack();
  const raw = structuredClone(stack.rawConfig) as any;
  raw.operators[0].smpp.reconnectDelayMsMin = 60_000;
  const serverPort = raw.operators[1].smpp.port;
  host = await startHost(validateConfig(raw), [gateway], { log });
  nats = await connectNats({ ...stack.config.nats, name: 'test' }, log);
  const [adminPort, smsboxPort] = [await freePort(), await freePort()];
  sendsmsPort = await freePort();
  const conf = join(dir, 'kannel.conf');
  writeFileSync(conf, kannelConfig(serverPort, adminPort, smsboxPort));
  const bearerbox = spawn(findBinary('bearerbox') as string, [conf], { stdio: 'ignore' });
  children.push(bearerbox);
  await waitFor('kannel smsbox port', async () => existsSync(`${dir}/bearerbox.log`) && /Adding interface|accepting|bearerbox/i.test(readFileSync(`${dir}/bearerbox.log`, 'utf8')), 15_000);
  children.push(spawn(findBinary('smsbox') as string, [conf], { stdio: 'ignore' }));
});
afterAll(async () => {
  for (const c of children) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  for (const c of children) c.kill('SIGKILL');
  await host?.stop();
  await nats?.close();
  await stack?.cleanup();
});

async function gatewayMetric(pattern: RegExp): Promise<boolean> {
  const text = await (await fetch(`http://127.0.0.1:${host.opsPorts.gateway}/metrics`)).text();
  return pattern.test(text);
}

it("binds Kannel's bearerbox to our server mode as a transceiver", async () => {
  await waitFor('kannel bound', () => gatewayMetric(/dialpay_smpp_binds_up\{[^}]*operator="orange-sn"[^}]*mode="server"[^}]*\} 1/), 30_000);
});

it("turns Kannel's submit_sm into an inbound SMS, and sends Kannel the receipt it asked for", async () => {
  const url = `http://127.0.0.1:${sendsmsPort}/cgi-bin/sendsms?username=tester&password=foobar&from=221770000055&to=384&text=PAY+SHOP42+250&dlr-mask=31`;
  const answer = await waitFor('sendsms accepted', async () => {
    const res = await fetch(url).catch(() => null);
    return res && res.status < 300 ? res.text() : null;
  }, 30_000);
  expect(answer).toMatch(/Accepted|Sent/i);
  const inbound = await waitFor('inbound from kannel', async () => (await readEvents(nats, 'SMS_INBOUND', Events.smsInbound)).find((e) => e.text === 'PAY SHOP42 250'));
  expect(inbound).toMatchObject({ operatorId: 'orange-sn', fromMsisdn: '221770000055', toAddress: '384' });
  // Kannel matched our receipt to its message (same FID) and read it as delivered (DLR type 1), not just the SMSC ack (8).
  await waitFor('kannel read our receipt as delivered', async () =>
    /Receive DLR \[SMSC:dialpay\].*\[flags:-1:-1:-1:-1:1\].*stat:DELIVRD/.test(readFileSync(`${dir}/access.log`, 'utf8')), 20_000);
});

it('delivers our message to a subscriber through Kannel as deliver_sm', async () => {
  await publishEvent(nats.js, Events.smsOutbound, {
    envelope: newEnvelope({ producer: 'test' }), messageRef: 'kannel-1', operatorId: 'orange-sn', toMsisdn: '221770000056', fromAddress: '384', text: 'Solde 4200 XOF via Kannel',
  }, { timeoutMs: 5_000 });
  await waitFor('kannel received it', async () => readFileSync(`${dir}/access.log`, 'utf8').includes('Solde 4200 XOF via Kannel'), 20_000);
  const line = readFileSync(`${dir}/access.log`, 'utf8').split('\n').find((l) => l.includes('Solde 4200 XOF via Kannel')) as string;
  expect(line).toMatch(/Receive SMS/);
});
