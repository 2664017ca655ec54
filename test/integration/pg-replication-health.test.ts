// The health watcher on a primary with a synchronous standby, through a
// multi-host postgres.url: it sees one standby streaming and its lag; a role
// without pg_monitor leaves the gauges unset instead of reporting a false 0;
// and after the primary dies and the standby is promoted, the pool's move to
// the new primary counts one failover.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startPostgres, startStandby, type PostgresHandle, type StandbyHandle } from '../../runtime/engines/index.js';
import { createPool, type Pool } from '../../runtime/pg/index.js';
import { createRegistry, type Registry } from '../../runtime/metrics.js';
import { startClusterHealth, type ClusterHealth } from '../../runtime/nats/cluster-health.js';
import { createLogger } from '../../runtime/log.js';
import { quietLogger, eventually } from '../support/stack.js';

let primary: PostgresHandle;
let standby: StandbyHandle;
let pool: Pool;
let registry: Registry;
let health: ClusterHealth;

const poolOf = (user: string) => createPool({
  url: `postgres://${user}@127.0.0.1:${standby.port},127.0.0.1:${primary.port}/dialpay?target_session_attrs=read-write`,
  poolSizeMax: 2, connectTimeoutMs: 2_000, statementTimeoutMs: 5_000, applicationName: 'health-test',
}, quietLogger());

async function value(r: Registry, name: string): Promise<number | undefined> {
  const metric = r.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  return (await metric.get()).values[0]?.value;
}

beforeAll(async () => {
  primary = await startPostgres({ durable: false });
  await primary.createDatabase('dialpay');
  standby = await startStandby(primary, { durable: false, synchronous: true });
  pool = poolOf('postgres');
  registry = createRegistry('test');
  health = startClusterHealth({ nc: null, consumes: [], pool, registry, log: quietLogger(), intervalMs: 3_600_000 });
}, 180_000);

afterAll(async () => {
  await health?.stop();
  await pool?.end();
  await standby?.stop();
  await primary?.stop();
});

it('sees the synchronous standby streaming, its lag in bytes, and two servers in the URL, and no failover yet', async () => {
  await pool.query('CREATE TABLE IF NOT EXISTS public.moves (id int PRIMARY KEY)');
  for (let id = 1; id <= 20; id++) await pool.query('INSERT INTO public.moves (id) VALUES ($1)', [id]);
  await health.pollOnce();
  expect(await value(registry, 'dialpay_postgres_standbys_streaming')).toBe(1);
  const lag = await value(registry, 'dialpay_postgres_standby_lag_bytes');
  expect(lag).toBeGreaterThanOrEqual(0);
  expect(lag).toBeLessThan(16 * 1024 * 1024);
  expect(await value(registry, 'dialpay_postgres_servers')).toBe(2);
  expect(await value(registry, 'dialpay_postgres_failovers_total')).toBe(0);
});

it('leaves the standby gauges unset, and says so once, for a role that may not read pg_stat_replication', async () => {
  await pool.query('CREATE ROLE health_plain LOGIN');
  const lines: string[] = [];
  const log = createLogger({ level: 'warn', destination: { write: (line: string) => void lines.push(line) } });
  const plainPool = poolOf('health_plain');
  const plainRegistry = createRegistry('test');
  const plain = startClusterHealth({ nc: null, consumes: [], pool: plainPool, registry: plainRegistry, log, intervalMs: 3_600_000 });
  try {
    await plain.pollOnce();
    await plain.pollOnce();
    expect(await value(plainRegistry, 'dialpay_postgres_standbys_streaming')).toBeUndefined();
    expect(await value(plainRegistry, 'dialpay_postgres_standby_lag_bytes')).toBeUndefined();
    expect(lines.filter((l) => l.includes('pg_monitor'))).toHaveLength(1);
    // Granted pg_monitor, the same role sees them.
    await pool.query('GRANT pg_monitor TO health_plain');
    await plain.pollOnce();
    expect(await value(plainRegistry, 'dialpay_postgres_standbys_streaming')).toBe(1);
  } finally {
    await plain.stop();
    await plainPool.end();
  }
});

it('counts one failover when the primary dies and the standby is promoted, and then no standby streams', async () => {
  await primary.kill();
  await standby.promote();
  const inserted = await eventually(() => pool.query('INSERT INTO public.moves (id) VALUES (21) RETURNING id'), 30_000);
  expect(inserted.rowCount).toBe(1);
  await health.pollOnce();
  expect(await value(registry, 'dialpay_postgres_failovers_total')).toBe(1);
  expect(await value(registry, 'dialpay_postgres_standbys_streaming')).toBe(0);
  expect(await value(registry, 'dialpay_postgres_standby_lag_bytes')).toBeUndefined();
  // Polls after it count nothing more.
  await health.pollOnce();
  expect(await value(registry, 'dialpay_postgres_failovers_total')).toBe(1);
}, 120_000);
