// The dialpay command as an operator runs it: config errors exit 2 naming the
// key; `all` serves metrics that promtool accepts; SIGTERM drains and exits 0;
// `migrate` creates every service schema; the gateway never needs Postgres.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { stringify } from 'yaml';
import { findBinary, freePort } from '../../runtime/engines/index.js';
import { exampleConfigRaw, quietLogger, setupStack, waitFor, type Stack } from '../support/stack.js';
import { COMPONENT_NAMES } from '../../runtime/config/index.js';
import { runTs } from '../support/child.js';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { connectNats, provisionTopology, DLQ_SUBJECT_PREFIX } from '../../runtime/nats/index.js';
import { TOPOLOGY } from '../../cli/components.js';

const dir = mkdtempSync(join(tmpdir(), 'dialpay-cli-'));
let stack: Stack;

function writeConfig(name: string, raw: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, stringify(raw));
  return path;
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

beforeAll(async () => {
  stack = await setupStack();
});
afterAll(async () => {
  await stack?.cleanup();
});

describe('config errors exit 2 and name the key, before any engine is contacted', () => {
  // Stand-ins for NATS and PostgreSQL that only count connections: a config error must exit 2
  // without touching either, whatever engines this machine runs on their default ports.
  let tripwire: Server;
  let tripwirePort = 0;
  let contacts = 0;
  beforeAll(async () => {
    tripwire = createServer((socket) => {
      contacts += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => tripwire.listen(0, '127.0.0.1', resolve));
    tripwirePort = (tripwire.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => tripwire.close(() => resolve())));

  const cases: [string, (raw: any) => void, RegExp][] = [
    ['wrong type', (raw) => (raw.operators[0].smpp.port = 'abc'), /operators\[0\]\.smpp\.port/],
    ['missing key', (raw) => delete raw.limits.tiers, /limits\.tiers/],
    ['unknown operator', (raw) => (raw.merchants[1].operatorIds = ['safaricom-ke', 'nope']), /merchants\[1\]\.operatorIds\[1\].*unknown operator "nope"/],
    // Refused at load, before any engine is contacted.
    ['USSD edge open beyond loopback with no secret', (raw) => (raw.ussd.http.host = '0.0.0.0'), /ussd\.http\.sharedSecret.*ussd\.http\.host 0\.0\.0\.0 is not loopback/],
    // Checked by the webhooks component's own rule: `all` runs it, so `all` refuses, still before any engine.
    ['webhook without its secret', (raw) => (raw.merchants[1].webhookUrl = 'https://volt.example/hooks'), /merchants\[1\]\.webhookSecret.*no webhookSecret to sign with \(DIALPAY__merchants__1__webhookSecret\)/],
  ];
  for (const [label, mutate, expected] of cases) {
    it(label, async () => {
      const raw = exampleConfigRaw() as any;
      raw.nats = { ...raw.nats, url: `nats://127.0.0.1:${tripwirePort}` };
      raw.postgres = { ...raw.postgres, url: `postgres://postgres@127.0.0.1:${tripwirePort}/dialpay` };
      mutate(raw);
      const before = contacts;
      const child = runTs('cli/dialpay.ts', ['all', '--config', writeConfig(`${label.replace(/ /g, '-')}.yaml`, raw)]);
      expect(await child.exited()).toBe(2);
      expect(child.stderr()).toMatch(expected);
      expect(contacts - before, 'engine connections made before the config error').toBe(0);
    });
  }

  it('the tripwire sees a connection when the config is good (it is not blind)', async () => {
    const raw = exampleConfigRaw() as any;
    raw.nats = { ...raw.nats, url: `nats://127.0.0.1:${tripwirePort}`, connectTimeoutMs: 2_000 };
    raw.postgres = { ...raw.postgres, url: `postgres://postgres@127.0.0.1:${tripwirePort}/dialpay` };
    const before = contacts;
    const child = runTs('cli/dialpay.ts', ['all', '--config', writeConfig('good-to-tripwire.yaml', raw)]);
    expect(await child.exited()).toBe(1);
    expect(contacts - before).toBeGreaterThan(0);
    expect(child.stderr()).toMatch(/^dialpay: nats\.url: cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+/);
    expect(child.stderr()).not.toMatch(/^\s+at /m);
  });
});

describe('a database that does not exist yet', () => {
  it('`all` says so in one line naming postgres.url, and `dialpay migrate` creates it', async () => {
    const database = `fresh_${Date.now().toString(36)}`;
    const raw = { ...stack.rawConfig, postgres: { ...(stack.rawConfig.postgres as object), url: stack.pg.urlFor(database) } };
    const config = writeConfig('fresh-database.yaml', raw);
    const all = runTs('cli/dialpay.ts', ['all', '--config', config]);
    expect(await all.exited()).toBe(1);
    const lines = all.stderr().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^dialpay: postgres\\.url: database "${database}" does not exist .*\`dialpay migrate\` creates it`));

    const migrate = runTs('cli/dialpay.ts', ['migrate', '--config', config]);
    expect(await migrate.exited()).toBe(0);
    const client = new pg.Client({ connectionString: stack.pg.urlFor(database) });
    await client.connect();
    try {
      const { rows } = await client.query<{ table_schema: string }>("SELECT table_schema FROM information_schema.tables WHERE table_name = 'outbox' ORDER BY table_schema");
      expect(rows.map((r) => r.table_schema)).toEqual(['billing', 'payments', 'reconciliation', 'settlement']);
    } finally {
      await client.end();
    }
  });
});

describe('dialpay all', () => {
  it('serves /healthz, /readyz and dialpay_* metrics that promtool accepts, then drains on SIGTERM', async () => {
    const promtool = findBinary('promtool');
    expect(promtool, 'promtool (Debian package prometheus) must be installed by make setup').not.toBeNull();
    const config = writeConfig('all.yaml', { ...stack.rawConfig, log: { level: 'info' } });
    const child = runTs('cli/dialpay.ts', ['all', '--config', config]);
    try {
      const ports = Object.values(stack.config.http.opsPorts);
      for (const port of ports) {
        await waitFor(`readyz on ${port}`, async () => (await get(port, '/readyz').catch(() => ({ status: 0 }))).status === 200, 30_000);
        expect((await get(port, '/healthz')).status).toBe(200);
        const metrics = await get(port, '/metrics');
        expect(metrics.body).toMatch(/^dialpay_process_cpu_seconds_total/m);
        const names = [...metrics.body.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1] as string);
        expect(names.length).toBeGreaterThan(10);
        for (const name of names) expect(name).toMatch(/^dialpay_[a-z0-9]+_[a-z0-9_]+$/);
        const checked = await new Promise<{ code: number; output: string }>((resolve) => {
          const p = execFile(promtool as string, ['check', 'metrics'], (err, stdout, stderr) =>
            resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` }),
          );
          p.stdin?.end(metrics.body);
        });
        expect(checked.output.split('\n').filter((l) => l.includes('dialpay_'))).toEqual([]);
        expect(checked.code).toBe(0);
      }
      expect(ports.length).toBe(COMPONENT_NAMES.length);
    } finally {
      child.process.kill('SIGTERM');
    }
    expect(await child.exited()).toBe(0);
    const lines = child.stdout().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; component?: string });
    expect(lines.filter((l) => l.msg === 'stopped').map((l) => l.component).sort()).toEqual(
      [...COMPONENT_NAMES].sort(),
    );
    expect(lines.at(-1)?.msg).toBe('drained, exiting');
  });

  it('migrate creates every service schema and its runtime tables', async () => {
    const child = runTs('cli/dialpay.ts', ['migrate', '--config', writeConfig('migrate.yaml', stack.rawConfig)]);
    expect(await child.exited()).toBe(0);
    const client = new pg.Client({ connectionString: stack.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ table_schema: string }>(
        "SELECT table_schema FROM information_schema.tables WHERE table_name = 'outbox' ORDER BY table_schema",
      );
      expect(rows.map((r) => r.table_schema)).toEqual(['billing', 'payments', 'reconciliation', 'settlement']);
    } finally {
      await client.end();
    }
  });

  it('only the webhooks component needs the webhook secrets: the gateway starts without them', async () => {
    const raw = structuredClone(stack.rawConfig) as { merchants: { webhookUrl?: string; webhookSecret?: string }[] };
    (raw.merchants[1] as { webhookUrl?: string }).webhookUrl = 'https://volt.example/hooks';
    delete raw.merchants[1]?.webhookSecret;
    const config = writeConfig('no-webhook-secret.yaml', raw);
    const gatewayChild = runTs('cli/dialpay.ts', ['gateway', '--config', config]);
    try {
      await waitFor('gateway ready', async () => (await get(stack.config.http.opsPorts.gateway, '/readyz').catch(() => ({ status: 0 }))).status === 200, 30_000);
    } finally {
      gatewayChild.process.kill('SIGTERM');
    }
    expect(await gatewayChild.exited()).toBe(0);
    const webhooksChild = runTs('cli/dialpay.ts', ['webhooks', '--config', config]);
    expect(await webhooksChild.exited()).toBe(2);
    expect(webhooksChild.stderr()).toMatch(/merchants\[1\]\.webhookSecret/);
  });

  it('runs the gateway alone with no Postgres reachable: it holds no database connection', async () => {
    const deadPort = await freePort();
    const raw = { ...stack.rawConfig, postgres: { url: `postgres://postgres@127.0.0.1:${deadPort}/nowhere` } };
    const child = runTs('cli/dialpay.ts', ['gateway', '--config', writeConfig('gateway.yaml', raw)]);
    try {
      const port = stack.config.http.opsPorts.gateway;
      await waitFor('gateway ready', async () => (await get(port, '/readyz').catch(() => ({ status: 0 }))).status === 200, 30_000);
    } finally {
      child.process.kill('SIGTERM');
    }
    expect(await child.exited()).toBe(0);
  });
});

describe('dialpay dlq', () => {
  it('lists the dead letters per consumer, refuses a replay without --consumer, and replays one consumer\'s back onto their subject', async () => {
    const log = quietLogger();
    const nats = await connectNats({ ...stack.config.nats, name: 'test-dlq' }, log);
    try {
      await provisionTopology(nats, TOPOLOGY, 1, log);
      const bytes = new TextEncoder().encode('an SmsInbound that payments could not handle');
      const h = natsHeaders();
      h.set('Dialpay-Original-Subject', 'dialpay.sms.inbound');
      h.set('Dialpay-Consumer', 'payments-sms-inbound');
      h.set('Dialpay-Error', 'relation "payments.x" does not exist');
      h.set('Dialpay-Deliveries', '10');
      await nats.js.publish(`${DLQ_SUBJECT_PREFIX}.SMS_INBOUND.payments-sms-inbound`, bytes, { headers: h });
      const config = writeConfig('dlq.yaml', stack.rawConfig);

      const list = runTs('cli/dialpay.ts', ['dlq', 'list', '--config', config]);
      expect(await list.exited()).toBe(0);
      expect(list.stdout()).toContain('payments-sms-inbound: 1 dead letter(s); newest error: relation "payments.x" does not exist');

      const noConsumer = runTs('cli/dialpay.ts', ['dlq', 'replay', '--config', config]);
      expect(await noConsumer.exited()).toBe(64);
      expect(noConsumer.stderr()).toMatch(/dlq replay needs --consumer NAME, one of: .*payments-sms-inbound/);
      const typo = runTs('cli/dialpay.ts', ['dlq', 'replay', '--consumer', 'payments-sms-inbond', '--config', config]);
      expect(await typo.exited()).toBe(64);

      const replay = runTs('cli/dialpay.ts', ['dlq', 'replay', '--consumer', 'payments-sms-inbound', '--config', config]);
      expect(await replay.exited()).toBe(0);
      expect(replay.stdout()).toContain('replayed 1 message(s) of payments-sms-inbound');
      const back = await nats.jsm.streams.getMessage('SMS_INBOUND', { last_by_subj: 'dialpay.sms.inbound' });
      expect(Buffer.from(back?.data ?? []).toString()).toBe('an SmsInbound that payments could not handle');

      const empty = runTs('cli/dialpay.ts', ['dlq', 'list', '--config', config]);
      expect(await empty.exited()).toBe(0);
      expect(empty.stdout()).toContain('the DLQ is empty');
    } finally {
      await nats.close();
    }
  });
});
