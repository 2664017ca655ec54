// One merchant's hanging webhook endpoint must not hold up everyone else's:
// the webhooks component (a real one, on a real nats-server) with four
// delivery slots, twenty events for a merchant whose endpoint never answers
// queued ahead of one for a healthy merchant. The breaker opens after three
// timeouts, so the healthy merchant's event goes out after a handful of
// attempts at the hanging one, not after all twenty; once the endpoint answers
// again, a probe closes the breaker and deliveries resume.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { validateConfig } from '../../cli/config.js';
import { startHost, type Host } from '../../runtime/host.js';
import { connectNats, Events, newEnvelope, publishEvent, type NatsHandle } from '../../runtime/nats/index.js';
import { webhooks } from '../../services/webhooks/index.js';
import { moneyToProto } from '../../proto/index.js';
import { quietLogger, setupStack, waitFor, type Stack } from '../support/stack.js';

let stack: Stack;
let host: Host;
let nats: NatsHandle;
const servers: Server[] = [];
const healthyGot: string[] = [];
const hangingGot: string[] = [];
let hangingAnswers = false;
/** Requests the hanging endpoint had received when the healthy merchant's event arrived. */
let hangingBeforeHealthy = -1;

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
}

beforeAll(async () => {
  stack = await setupStack();
  const healthyUrl = await listen((req, res) => {
    hangingBeforeHealthy = hangingGot.length;
    healthyGot.push(String(req.headers['dialpay-event-id']));
    req.resume();
    res.writeHead(200).end();
  });
  const hangingUrl = await listen((req, res) => {
    hangingGot.push(String(req.headers['dialpay-event-id']));
    req.resume();
    if (hangingAnswers) res.writeHead(204).end(); // otherwise never answered: the sender's timeout ends it
  });
  const raw = structuredClone(stack.rawConfig) as any;
  Object.assign(raw.merchants[0], { webhookUrl: healthyUrl, webhookSecret: 'whsec-healthy-0123456789' });
  Object.assign(raw.merchants[1], { webhookUrl: hangingUrl, webhookSecret: 'whsec-hanging-0123456789' });
  raw.consumers = { ...raw.consumers, inFlightMax: 4, webhookRetryDelaysMs: [600_000] };
  raw.webhooks = { timeoutMs: 1_000, circuitFailuresToOpen: 3, circuitOpenMs: 2_000 };
  host = await startHost(validateConfig(raw), [webhooks], { log: quietLogger() });
  nats = await connectNats({ ...stack.config.nats, name: 'breaker-test' }, quietLogger());
}, 60_000);

afterAll(async () => {
  await nats?.close();
  await host?.stop();
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  await stack?.cleanup();
}, 60_000);

const event = (merchantId: string, n: string) => ({
  envelope: newEnvelope({ producer: 'test', eventId: `breaker-${n}` }),
  merchantId,
  type: 'payment.completed',
  payment: { paymentId: `pay-${n}`, status: 'completed', amount: moneyToProto({ amountMinor: 1_000n, currency: 'KES' }), fee: moneyToProto({ amountMinor: 0n, currency: 'KES' }) },
});

it('a hanging endpoint opens its breaker, others are delivered meanwhile, and a probe closes it once it answers', async () => {
  for (let i = 0; i < 20; i++) await publishEvent(nats.js, Events.merchantEvent, event('EVCHARGE', `hang-${i}`), { timeoutMs: 5_000 });
  await publishEvent(nats.js, Events.merchantEvent, event('SHOP42', 'healthy'), { timeoutMs: 5_000 });
  await waitFor('the healthy merchant\'s event', async () => healthyGot.includes('breaker-healthy'), 30_000);
  // Three timeouts open the breaker; the slots already sending then finish theirs. Without it, all twenty come first.
  expect(hangingBeforeHealthy).toBeGreaterThanOrEqual(3);
  expect(hangingBeforeHealthy).toBeLessThanOrEqual(3 + 4);
  const metrics = await (await fetch(`http://127.0.0.1:${host.opsPorts.webhooks}/metrics`)).text();
  expect(metrics).toMatch(/dialpay_webhook_deliveries_total\{merchant="EVCHARGE",outcome="circuit_open"[^}]*\} [1-9]/);

  hangingAnswers = true;
  // Past circuitOpenMs after the last failure (attempts in flight when it opened fail up to timeoutMs later): the next delivery probes.
  await new Promise((r) => setTimeout(r, 2_000 + 1_000 + 500));
  await publishEvent(nats.js, Events.merchantEvent, event('EVCHARGE', 'after'), { timeoutMs: 5_000 });
  await waitFor('the probe delivered', async () => hangingGot.includes('breaker-after'), 30_000);
  await publishEvent(nats.js, Events.merchantEvent, event('EVCHARGE', 'after-2'), { timeoutMs: 5_000 });
  await waitFor('delivery resumed', async () => hangingGot.includes('breaker-after-2'), 30_000);
}, 90_000);
