// SMPP over TLS, both sides, with a transmitter + receiver bind pair: our
// client mode (operator A, bindType pair, trusting a test CA) binds to our own
// server mode (operator B, TLS listener). Messages cross in both directions:
// A's submit_sm arrives at B; B's deliver_sm arrives at A's receiver bind.
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectNats, newEnvelope, publishEvent, Events, type NatsHandle } from '../../../runtime/nats/index.js';
import { validateConfig } from '../../../cli/config.js';
import { startHost, type Host } from '../../../runtime/host.js';
import { gateway } from '../../../gateway/index.js';
import { setupStack, quietLogger, waitFor, type Stack } from '../../support/stack.js';
import { readEvents } from '../../support/streams.js';

const log = quietLogger();
let stack: Stack;
let host: Host;
let nats: NatsHandle;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dialpay-tls-'));
  const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  stack = await setupStack();
  const raw = structuredClone(stack.rawConfig) as any;
  const port = raw.operators[1].smpp.port;
  Object.assign(raw.operators[1].smpp, { tls: true, tlsCertFile: cert, tlsKeyFile: key });
  Object.assign(raw.operators[0].smpp, {
    host: '127.0.0.1', port, tls: true, tlsCaFile: cert, systemId: 'orangesn', password: 'secret2', bindType: 'pair', bindCount: 1,
    reconnectDelayMsMin: 100, reconnectDelayMsMax: 500,
  });
  host = await startHost(validateConfig(raw), [gateway], { log });
  nats = await connectNats({ ...stack.config.nats, name: 'test' }, log);
});
afterAll(async () => {
  await host?.stop();
  await nats?.close();
  await stack?.cleanup();
});

it('binds a transmitter and a receiver over TLS', async () => {
  await waitFor('both binds up on both sides', async () => {
    const text = await (await fetch(`http://127.0.0.1:${host.opsPorts.gateway}/metrics`)).text();
    return /dialpay_smpp_binds_up\{[^}]*mode="client"[^}]*\} 2/.test(text) && /dialpay_smpp_binds_up\{[^}]*mode="server"[^}]*\} 2/.test(text);
  });
});

it("carries A's submit_sm to B over the transmitter, and B's deliver_sm to A's receiver", async () => {
  await publishEvent(nats.js, Events.smsOutbound, {
    envelope: newEnvelope({ producer: 'test' }), messageRef: 'tls-a', operatorId: 'safaricom-ke', toMsisdn: '384', fromAddress: '221770000031', text: 'from A over TLS',
  }, { timeoutMs: 5_000 });
  await publishEvent(nats.js, Events.smsOutbound, {
    envelope: newEnvelope({ producer: 'test' }), messageRef: 'tls-b', operatorId: 'orange-sn', toMsisdn: '384', fromAddress: '254711000031', text: 'from B over TLS',
  }, { timeoutMs: 5_000 });
  const events = await waitFor('both crossed', async () => {
    const all = await readEvents(nats, 'SMS_INBOUND', Events.smsInbound);
    const a = all.find((e) => e.text === 'from A over TLS');
    const b = all.find((e) => e.text === 'from B over TLS');
    return a && b ? { a, b } : null;
  });
  expect(events.a).toMatchObject({ operatorId: 'orange-sn', fromMsisdn: '221770000031' });
  expect(events.b).toMatchObject({ operatorId: 'safaricom-ke', fromMsisdn: '254711000031', bindId: 'safaricom-ke/bind-0-rx' });
});
