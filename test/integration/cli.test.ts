// The dialpay command as an operator runs it: config errors exit 2 naming the
// key; `all` serves metrics that promtool accepts; SIGTERM drains and exits 0;
// `migrate` creates every service schema; the gateway never needs Postgres.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { stringify } from 'yaml';
import { findBinary, freePort } from '../../runtime/engines/index.js';
import { exampleConfigRaw, setupStack, waitFor, type Stack } from '../support/stack.js';
import { COMPONENT_NAMES } from '../../runtime/config/index.js';
import { runTs } from '../support/child.js';

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

describe('config errors exit 2 and name the key', () => {
  const cases: [string, (raw: any) => void, RegExp][] = [
    ['wrong type', (raw) => (raw.operators[0].smpp.port = 'abc'), /operators\[0\]\.smpp\.port/],
    ['missing key', (raw) => delete raw.limits.tiers, /limits\.tiers/],
    ['unknown operator', (raw) => (raw.merchants[1].operatorIds = ['safaricom-ke', 'nope']), /merchants\[1\]\.operatorIds\[1\].*unknown operator "nope"/],
  ];
  for (const [label, mutate, expected] of cases) {
    it(label, async () => {
      const raw = exampleConfigRaw();
      mutate(raw);
      const child = runTs('cli/dialpay.ts', ['all', '--config', writeConfig(`${label.replace(/ /g, '-')}.yaml`, raw)]);
      expect(await child.exited()).toBe(2);
      expect(child.stderr()).toMatch(expected);
    });
  }
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
