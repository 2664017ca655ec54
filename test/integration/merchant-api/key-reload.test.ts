// API keys change without a restart: a real `dialpay gateway` process, its
// YAML edited and SIGHUP sent. A removed key is refused from the next
// request, a new key works, and a config that does not load is logged (naming
// the key) while the running keys stay. A SIGHUP during start-up neither kills
// the process nor is lost.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { newApiKey } from '../../../runtime/api-keys.js';
import { COMPONENT_NAMES } from '../../../runtime/config/index.js';
import { freePort, startNatsServer, type NatsServerHandle } from '../../../runtime/engines/index.js';
import { runTs, type Child } from '../../support/child.js';
import { exampleConfigRaw, waitFor } from '../../support/stack.js';

const keyA = newApiKey();
const keyB = newApiKey();
const keyC = newApiKey();
const configPath = join(mkdtempSync(join(tmpdir(), 'dialpay-key-reload-')), 'gateway.yaml');
let natsServer: NatsServerHandle;
let raw: any;
let base: string;
let child: Child;

const status = async (key: string) => (await fetch(`${base}/v1/balance`, { headers: { authorization: `Bearer ${key}` } })).status;
const logLines = (msg: string) => child.stdout().split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((l) => l.msg === msg);

async function hangUpWith(apiKeys: unknown, expectMsg: string): Promise<void> {
  const seen = logLines(expectMsg).length;
  raw.merchants[0].apiKeys = apiKeys;
  writeFileSync(configPath, stringify(raw));
  child.process.kill('SIGHUP');
  await waitFor(`"${expectMsg}" logged`, async () => logLines(expectMsg).length > seen);
}

/** The config with ports of its own, so a second gateway can run beside the first. */
async function configOnFreshPorts(): Promise<any> {
  const copy = structuredClone(raw);
  copy.http = { host: '127.0.0.1', opsPorts: Object.fromEntries(await Promise.all(COMPONENT_NAMES.map(async (n) => [n, await freePort()]))) };
  for (const op of copy.operators) if (op.smpp.mode === 'server') op.smpp.port = await freePort();
  copy.ussd.http.port = await freePort();
  copy.merchantApi = { ...copy.merchantApi, port: await freePort() };
  return copy;
}

beforeAll(async () => {
  natsServer = await startNatsServer();
  raw = exampleConfigRaw();
  raw.nats = { ...raw.nats, url: natsServer.url };
  // The gateway never opens Postgres: nothing listens here.
  raw.postgres = { url: `postgres://postgres@127.0.0.1:${await freePort()}/nowhere` };
  raw.http = { host: '127.0.0.1', opsPorts: Object.fromEntries(await Promise.all(COMPONENT_NAMES.map(async (n) => [n, await freePort()]))) };
  for (const op of raw.operators) if (op.smpp.mode === 'server') op.smpp.port = await freePort();
  raw.ussd.http.port = await freePort();
  const port = await freePort();
  raw.merchantApi = { ...raw.merchantApi, port };
  raw.log = { level: 'info' };
  raw.merchants[0].apiKeys = [keyA.stored, keyB.stored];
  writeFileSync(configPath, stringify(raw));
  base = `http://127.0.0.1:${port}`;
  child = runTs('cli/dialpay.ts', ['gateway', '--config', configPath]);
  await child.waitForLine(/merchant API listening/);
}, 60_000);
afterAll(async () => {
  await child?.kill('SIGTERM');
  await natsServer?.stop();
});

describe('API keys reload on SIGHUP', () => {
  it('a removed key gets 401 and a new key works, without a restart; a bad config keeps the running keys', async () => {
    // Past the key check, billing (not running here) does not answer: 503, not 401.
    expect([await status(keyA.key), await status(keyB.key), await status(keyC.key)]).toEqual([503, 503, 401]);

    await hangUpWith([keyB.stored, keyC.stored], 'merchant API keys reloaded');
    expect([await status(keyA.key), await status(keyB.key), await status(keyC.key)]).toEqual([401, 503, 503]);
    const reloaded = logLines('merchant API keys reloaded').at(-1);
    expect([reloaded.addedKeyIds, reloaded.removedKeyIds]).toEqual([[keyC.stored.id], [keyA.stored.id]]);

    await hangUpWith([{ id: keyA.stored.id, sha256: 'not-a-hash' }], 'config reload failed; the running config stays');
    expect(logLines('config reload failed; the running config stays').at(-1).err.message).toContain('merchants[0].apiKeys[0].sha256');
    expect([await status(keyA.key), await status(keyB.key), await status(keyC.key)]).toEqual([401, 503, 503]);
    expect(child.process.exitCode).toBeNull();
  });

  it('a SIGHUP during start-up neither kills the process nor is lost: it is applied once started', async () => {
    const early = await configOnFreshPorts();
    const path = join(mkdtempSync(join(tmpdir(), 'dialpay-hup-at-start-')), 'gateway.yaml');
    early.merchants[0].apiKeys = [keyA.stored];
    writeFileSync(path, stringify(early));
    const child = runTs('cli/dialpay.ts', ['gateway', '--config', path]);
    try {
      await child.waitForLine(/"msg":"starting"/);
      // The key changes while the process is still provisioning; the signal comes before it serves.
      early.merchants[0].apiKeys = [keyB.stored];
      writeFileSync(path, stringify(early));
      child.process.kill('SIGHUP');
      await child.waitForLine(/merchant API listening/);
      await child.waitForLine(/config reloaded/);
      expect(child.stdout()).toContain('SIGHUP during start-up: the config is re-read once started');
      const status = async (key: string) => (await fetch(`http://127.0.0.1:${early.merchantApi.port}/v1/balance`, { headers: { authorization: `Bearer ${key}` } })).status;
      expect([await status(keyA.key), await status(keyB.key)]).toEqual([401, 503]);
      expect([child.process.exitCode, child.process.signalCode]).toEqual([null, null]);
    } finally {
      await child.kill('SIGTERM');
    }
  });
});
