// A merchant's API rate limit across gateway replicas: two merchant API
// instances, each with its own NATS connection and presence (as gateway/index.ts
// starts them), count each other and admit half of a key's burst each, so
// together they admit the limit, not twice it; once one stops, the other is
// forgotten-about no later than PRESENCE_FORGET_MS and admits the whole limit.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MerchantApi } from '../../../gateway/merchant-api/server.js';
import { GatewayPresence, PRESENCE_FORGET_MS } from '../../../gateway/presence.js';
import { newApiKey } from '../../../runtime/api-keys.js';
import { type Config } from '../../../runtime/config/index.js';
import { validateConfig } from '../../../cli/config.js';
import { freePort, startNatsServer, type NatsServerHandle } from '../../../runtime/engines/index.js';
import { Registry } from '../../../runtime/metrics.js';
import { connectNats, type NatsHandle } from '../../../runtime/nats/index.js';
import { exampleConfigRaw, quietLogger, waitFor } from '../../support/stack.js';

const BURST = 10;
const key = newApiKey();
let natsServer: NatsServerHandle;

interface Replica {
  readonly port: number;
  readonly nats: NatsHandle;
  readonly presence: GatewayPresence;
  readonly api: MerchantApi;
  stopped: boolean;
}
const replicas: Replica[] = [];

async function replica(): Promise<Replica> {
  const port = await freePort();
  const raw = exampleConfigRaw() as any;
  raw.nats = { ...raw.nats, url: natsServer.url };
  raw.merchantApi = { port };
  // One request a second after a burst of 10: the test's requests land within the burst.
  raw.merchants[0] = { ...raw.merchants[0], apiKeys: [key.stored], apiRequestsPerSecondMax: 1, apiRequestsBurstMax: BURST };
  const config: Config = validateConfig(raw);
  const nats = await connectNats({ ...config.nats, name: `rate-limit-${port}` }, quietLogger());
  const presence = new GatewayPresence({ nc: nats.nc, log: quietLogger() });
  await presence.start();
  const api = new MerchantApi({ config, nc: nats.nc, log: quietLogger(), registry: new Registry(), replicas: () => presence.replicas() });
  await api.listen();
  const r = { port, nats, presence, api, stopped: false };
  replicas.push(r);
  return r;
}

async function stop(r: Replica): Promise<void> {
  if (r.stopped) return;
  r.stopped = true;
  await r.api.close();
  await r.presence.stop();
  await r.nats.close();
}

function status(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/v1/settlements', method: 'GET', headers: { authorization: `Bearer ${key.key}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** `n` requests to each port at once; how many each admitted (anything but 429: settlement is not running, so 503). */
async function admitted(ports: readonly number[], n: number): Promise<number[]> {
  const answers = await Promise.all(ports.map((port) => Promise.all(Array.from({ length: n }, () => status(port)))));
  return answers.map((statuses) => statuses.filter((s) => s !== 429).length);
}

beforeAll(async () => {
  natsServer = await startNatsServer();
});
afterAll(async () => {
  for (const r of replicas) await stop(r);
  await natsServer?.stop();
});

describe('merchant API rate limits across gateway replicas', () => {
  it('two replicas admit a key\'s burst together, half each; alone, one admits all of it', async () => {
    const [a, b] = [await replica(), await replica()];
    expect([a.presence.replicas(), b.presence.replicas()]).toEqual([2, 2]);
    // The whole burst offered to each: with a limit per process they would admit 2 x 10.
    const [fromA = 0, fromB = 0] = await admitted([a.port, b.port], BURST);
    expect(fromA + fromB).toBeGreaterThanOrEqual(BURST);
    expect(fromA + fromB).toBeLessThanOrEqual(BURST + 1); // what one second's refill may add
    expect(fromA).toBeGreaterThanOrEqual(BURST / 2);
    expect(fromB).toBeGreaterThanOrEqual(BURST / 2);

    await stop(b);
    await waitFor('A forgets B', async () => a.presence.replicas() === 1, PRESENCE_FORGET_MS + 3_000);
    await new Promise((r) => setTimeout(r, BURST * 1_000)); // A's bucket refills (1/s)
    const [alone] = await admitted([a.port], BURST * 2);
    expect(alone).toBeGreaterThanOrEqual(BURST);
    expect(alone).toBeLessThanOrEqual(BURST + 1);
  }, 60_000);
});
