// The operator simulator that `make run` uses, against the real gateway: its
// SMSC side (the gateway binds to it) and its aggregator side (it binds to the
// gateway's server mode), phones texting both ways, and a slow SMSC.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectNats, newEnvelope, publishEvent, Events, Notifications, type NatsHandle } from '../../../runtime/nats/index.js';
import { type Config } from '../../../runtime/config/index.js';
import { validateConfig } from '../../../cli/config.js';
import { startHost, type Host } from '../../../runtime/host.js';
import { freePort } from '../../../runtime/engines/index.js';
import { v1 } from '../../../proto/index.js';
import { gateway } from '../../../gateway/index.js';
import { startOperatorSim, type OperatorSim } from '../../../operator-sim/index.js';
import { setupStack, quietLogger, waitFor, type Stack } from '../../support/stack.js';
import { readEvents } from '../../support/streams.js';
import { listenTo } from '../../support/notification-listener.js';

const log = quietLogger();
let stack: Stack;
let host: Host;
let sim: OperatorSim;
let nats: NatsHandle;
let config: Config;
const said: string[] = [];

beforeAll(async () => {
  stack = await setupStack();
  const raw = structuredClone(stack.rawConfig) as any;
  Object.assign(raw.operators[0].smpp, { port: await freePort(), bindCount: 1, reconnectDelayMsMin: 100, reconnectDelayMsMax: 500 });
  const port = await freePort();
  const topUpPort = await freePort();
  Object.assign(raw.operators[0], {
    billingAdapter: 'http',
    charging: { baseUrl: `http://127.0.0.1:${port}`, tokenUrl: `http://127.0.0.1:${port}/oauth2/token`, clientId: 'dialpay', clientSecret: 'k' },
    topUp: { baseUrl: `http://127.0.0.1:${topUpPort}/airtime`, apiKey: 'tk' },
  });
  config = validateConfig(raw);
  sim = await startOperatorSim(config, { trafficIntervalMs: 100, peerPasswords: new Map([['orange-sn', 'secret2']]), peerBindDelayMs: 0, say: (l) => said.push(l) });
  host = await startHost(config, [gateway], { log });
  nats = await connectNats({ ...stack.config.nats, name: 'test' }, log);
});
afterAll(async () => {
  await sim?.stop();
  await host?.stop();
  await nats?.close();
  await stack?.cleanup();
});

it('serves the CAMARA charging API, its token endpoint and the top-up API of an operator billed over http', async () => {
  const url = config.operators[0]?.charging?.baseUrl as string;
  const payment = `${url}/carrier-billing/v0.5/payments/nope`;
  expect((await fetch(payment)).status).toBe(401);
  const refused = await fetch(`${url}/oauth2/token`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from('dialpay:wrong').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
  expect(refused.status).toBe(401);
  const token = await fetch(`${url}/oauth2/token`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from('dialpay:k').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
  const { access_token } = (await token.json()) as { access_token: string };
  const res = await fetch(payment, { headers: { authorization: `Bearer ${access_token}`, 'x-correlator': 'c-1' } });
  expect(res.status).toBe(404);
  expect(res.headers.get('x-correlator')).toBe('c-1');
  expect(await res.json()).toMatchObject({ status: 404, code: 'NOT_FOUND' });
  expect(sim.chargingApis.has('safaricom-ke')).toBe(true);
  const topUpUrl = config.operators[0]?.topUp?.baseUrl as string;
  const topUp = await fetch(`${topUpUrl}/topups/t-1`, { headers: { authorization: 'Bearer tk' } });
  expect(topUp.status).toBe(404);
  expect((await fetch(`${topUpUrl}/topups/t-1`)).status).toBe(401);
});

it("sends phones' messages through both operators' links into NATS", async () => {
  const byOperator = await waitFor('traffic from both operators', async () => {
    const events = await readEvents(nats, 'SMS_INBOUND', Events.smsInbound);
    const ops = new Set(events.map((e) => e.operatorId));
    return ops.has('safaricom-ke') && ops.has('orange-sn') ? events : null;
  }, 30_000).catch((err: Error) => {
    throw new Error(`${err.message}; simulator said: ${said.filter((l) => !l.startsWith('phone +254')).slice(-10).join(' | ')}`);
  });
  expect(byOperator.every((e) => /^(254|221)\d{9}$/.test(e.fromMsisdn ?? ''))).toBe(true);
  expect(said.some((l) => l.includes('aggregator for orange-sn bound'))).toBe(true);
});

it('delivers to phones on both links, through a slow SMSC too', async () => {
  sim.smscs.get('safaricom-ke')?.setFaults({ responseDelayMs: 300 });
  const submitResults = await listenTo(nats.nc, Notifications.smsSubmitResult);
  for (const [operatorId, to] of [['safaricom-ke', '254712000001'], ['orange-sn', '221770000001']] as const) {
    await publishEvent(nats.js, Events.smsOutbound, {
      envelope: newEnvelope({ producer: 'test' }), messageRef: `sim-${operatorId}`, operatorId, toMsisdn: to, fromAddress: '384', text: `hello ${operatorId}`,
    }, { timeoutMs: 5_000 });
  }
  const results = await waitFor('both accepted', async () => {
    const all = submitResults.received.filter((r) => r.messageRef?.startsWith('sim-'));
    return all.length === 2 ? all : null;
  });
  expect(results.every((r) => r.status === v1.SubmitStatus.SUBMIT_STATUS_ACCEPTED)).toBe(true);
  expect(sim.smscs.get('safaricom-ke')?.submitted.some((m) => m.text === 'hello safaricom-ke')).toBe(true);
  expect(sim.esmes.get('orange-sn')?.received.some((m) => m.text === 'hello orange-sn' && m.destination === '221770000001')).toBe(true);
  const metrics = await (await fetch(`http://127.0.0.1:${host.opsPorts.gateway}/metrics`)).text();
  // The slow SMSC shows in the submit latency histogram: at least one response over 250 ms.
  const under = Number(/dialpay_smpp_submit_response_seconds_bucket\{le="0\.25",[^}]*operator="safaricom-ke"[^}]*\} (\d+)/.exec(metrics)?.[1]);
  const total = Number(/dialpay_smpp_submit_response_seconds_count\{[^}]*operator="safaricom-ke"[^}]*\} (\d+)/.exec(metrics)?.[1]);
  expect(total - under).toBeGreaterThan(0);
});
