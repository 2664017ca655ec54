// Reconciliation runs that at most one process does (services/reconciliation/
// exclusive.ts): `dialpay reconcile` started on two hosts at once on the same
// file runs it once (one report, one ReconciliationCompleted event; the other
// answers with that run's summary); --again runs it anew; and a run SIGKILLed
// after it published, before it recorded the run, is taken over by a second
// that was waiting for its lease: the run is recorded once and the stream
// holds its event once.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { billingComponent, SimulatedCarrier } from '../../../services/billing/index.js';
import { fileSha256, reconciliation } from '../../../services/reconciliation/index.js';
import { startHost, type Host } from '../../../runtime/host.js';
import { connectNats, Events, type NatsHandle } from '../../../runtime/nats/index.js';
import { createPool, type Pool } from '../../../runtime/pg/index.js';
import { quietLogger, setupStack, waitFor, type Stack } from '../../support/stack.js';
import { readEvents } from '../../support/streams.js';
import { runTs, type Child } from '../../support/child.js';

let stack: Stack;
let host: Host;
let nats: NatsHandle;
let pool: Pool;
let dir: string;
let config: string;
const OPERATOR = 'safaricom-ke';

beforeAll(async () => {
  stack = await setupStack();
  host = await startHost(stack.config, [billingComponent(new SimulatedCarrier({ openingBalanceMinor: 1_000_000n })), reconciliation],
    { log: quietLogger() });
  nats = await connectNats({ ...stack.config.nats, name: 'reconcile-lease-test' }, quietLogger());
  pool = createPool({ url: stack.databaseUrl, poolSizeMax: 4, connectTimeoutMs: 5_000, statementTimeoutMs: 120_000, applicationName: 'test' }, quietLogger());
  dir = mkdtempSync(join(tmpdir(), 'dialpay-reconcile-lease-'));
  config = join(dir, 'dialpay.yaml');
  writeFileSync(config, stringify({ ...stack.rawConfig, log: { level: 'error' } }));
}, 60_000);
afterAll(async () => {
  await pool?.end();
  await nats?.close();
  await host?.stop();
  await stack?.cleanup();
});

/** A day's file of charges the ledger never saw: each is missing in the ledger, so a person must look (exit 3). */
function chargesFile(name: string, charges: number): string {
  const file = join(dir, name);
  const rows = Array.from({ length: charges }, (_, i) => `TX-${name}-${i},,07880000${String(i).padStart(2, '0')},${100 + i},KES,CHARGED,2026-11-20T10:00:00Z`);
  writeFileSync(file, `carrier_tx_id,correlator,msisdn,amount_minor,currency,status,charged_at\n${rows.join('\n')}\n`);
  return file;
}

const reconcile = (file: string, out: string, ...extra: string[]): Child =>
  runTs('cli/dialpay.ts', ['reconcile', '--operator', OPERATOR, file, '--out', join(dir, out), '--config', config, ...extra]);

const summaryOf = (child: Child) => JSON.parse(child.stdout().trim().split('\n').at(-1) ?? '{}') as { counts: Record<string, number>; report: string; alreadyReconciled?: boolean };
const eventsOf = async (file: string) => (await readEvents(nats, 'RECONCILIATION', Events.reconciliationCompleted)).filter((e) => e.windowId === `${OPERATOR}/${file.split('/').pop()}`);

describe('reconciliation runs across hosts', () => {
  it('two runs of the same file at once run it once; the other answers with its summary; --again runs it anew', async () => {
    const file = chargesFile('day-1.csv', 3);
    const [a, b] = [reconcile(file, 'a'), reconcile(file, 'b')];
    expect([await a.exited(), await b.exited()]).toEqual([3, 3]);
    const [sa, sb] = [summaryOf(a), summaryOf(b)];
    expect([sa.alreadyReconciled, sb.alreadyReconciled].filter(Boolean)).toEqual([true]);
    expect(sa.counts).toEqual(sb.counts);
    expect(sa.counts.missing_in_ledger).toBe(3);
    expect(sa.report).toBe(sb.report); // the one report, the first run's
    expect(await eventsOf(file)).toHaveLength(1);
    const runs = await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM reconciliation.runs WHERE operator_id = $1 AND file_sha256 = $2', [OPERATOR, await fileSha256(file)]);
    expect(runs.rows[0]?.n).toBe('1');

    const again = reconcile(file, 'c', '--again');
    expect(await again.exited()).toBe(3);
    expect(summaryOf(again)).toMatchObject({ report: join(dir, 'c.csv') });
    expect(summaryOf(again).alreadyReconciled).toBeUndefined();
    expect(await eventsOf(file)).toHaveLength(2);
  }, 120_000);

  it('a run killed (SIGKILL) after it published, before it recorded the run, is taken over by the one waiting for it', async () => {
    const file = chargesFile('day-2.csv', 2);
    const sha = await fileSha256(file);
    // The run's record, written and not committed: the holder publishes, then waits here to record.
    const row: pg.PoolClient = await pool.connect();
    row.on('error', () => undefined);
    try {
      await row.query('BEGIN');
      await row.query(`INSERT INTO reconciliation.runs (operator_id, file_sha256, summary) VALUES ($1, $2, '{}')`, [OPERATOR, sha]);
      const holder = reconcile(file, 'holder');
      await waitFor('the holder blocked recording its run', async () =>
        (await pool.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = 'dialpay-reconcile' AND wait_event_type = 'Lock' AND query LIKE '%reconciliation.runs%'`)).rowCount === 1, 60_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}; the holder said: ${holder.stderr().slice(-2000)}`);
      });
      expect(await eventsOf(file)).toHaveLength(1);
      const waiter = reconcile(file, 'waiter');
      await waitFor('the second to wait', async () => /another process is reconciling/.test(waiter.stderr()), 60_000);
      await holder.kill('SIGKILL');
      await row.query('ROLLBACK');
      expect(await waiter.exited()).toBe(3);
      expect(summaryOf(waiter)).toMatchObject({ report: join(dir, 'waiter.csv'), counts: { missing_in_ledger: 2 } });
      expect(summaryOf(waiter).alreadyReconciled).toBeUndefined();
    } finally {
      row.release();
    }
    // Recorded once, by the taker; its event had the holder's id, so the stream kept the first one only.
    const runs = await pool.query<{ report: string }>(`SELECT summary->>'reportCsv' AS report FROM reconciliation.runs WHERE operator_id = $1 AND file_sha256 = $2`, [OPERATOR, sha]);
    expect(runs.rows).toEqual([{ report: join(dir, 'waiter.csv') }]);
    expect(await eventsOf(file)).toHaveLength(1);
  }, 180_000);
});
