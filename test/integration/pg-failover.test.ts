// A postgres.url naming a primary and its streaming standby, as production runs
// (deploy/): the pool writes to the primary; when the primary dies and the
// standby is promoted, new connections reach the new primary without a restart,
// and every commit acknowledged before the crash is there (synchronous standby).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startPostgres, startStandby, type PostgresHandle, type StandbyHandle } from '../../runtime/engines/index.js';
import { createPool, type Pool } from '../../runtime/pg/index.js';
import { migrateSchemas } from '../../runtime/pg/migrate.js';
import { databaseName, ensureDatabase, redactUrl } from '../../runtime/pg/database.js';
import { postgresServers } from '../../runtime/pg/hosts.js';
import { NoWritableServerError, PrimaryFinder, writableUrl } from '../../runtime/pg/failover.js';
import { quietLogger, eventually } from '../support/stack.js';

let primary: PostgresHandle;
let standby: StandbyHandle;
let url: string;
let pool: Pool;

beforeAll(async () => {
  primary = await startPostgres({ durable: false });
  await primary.createDatabase('dialpay');
  standby = await startStandby(primary, { durable: false, synchronous: true });
  // The standby first, as a config may list them: the finder must skip it while it is read-only.
  url = `postgres://postgres@127.0.0.1:${standby.port},127.0.0.1:${primary.port}/dialpay?target_session_attrs=read-write`;
  pool = createPool({ url, poolSizeMax: 4, connectTimeoutMs: 3_000, statementTimeoutMs: 10_000, applicationName: 'failover-test' }, quietLogger());
}, 180_000);

afterAll(async () => {
  await pool?.end();
  await standby?.stop();
  await primary?.stop();
});

it('reads a multi-host URL the way libpq does, and names every server in messages without the password', () => {
  const servers = postgresServers('postgres://app:s3cret@db-a:5432,db-b:5433/dialpay?target_session_attrs=read-write&sslmode=disable');
  expect(servers.readWrite).toBe(true);
  expect(servers.urls).toEqual(['postgres://app:s3cret@db-a:5432/dialpay?sslmode=disable', 'postgres://app:s3cret@db-b:5433/dialpay?sslmode=disable']);
  expect(databaseName('postgres://app@db-a,db-b/pay?target_session_attrs=read-write')).toBe('pay');
  expect(redactUrl('postgres://app:s3cret@db-a:5432,db-b:5433/dialpay')).not.toContain('s3cret');
  expect(postgresServers('postgres://app@db/dialpay').urls).toEqual(['postgres://app@db/dialpay']);
  expect(() => postgresServers('postgres://a,,b/x')).toThrow(/empty host/);
  expect(() => postgresServers('postgres://a/x?target_session_attrs=standby')).toThrow(/not supported/);
});

it('migrates and writes through the server that accepts writes, skipping the read-only standby listed first', async () => {
  expect(await ensureDatabase(url, 3_000)).toBe(false);
  await migrateSchemas(url, [{ schema: 'fixture', dir: null }], quietLogger(), 3_000);
  expect(await writableUrl(url, 3_000)).toContain(`:${primary.port}/`);
  await pool.query('CREATE TABLE IF NOT EXISTS fixture.moves (id int PRIMARY KEY)');
  for (let id = 1; id <= 50; id++) await pool.query('INSERT INTO fixture.moves (id) VALUES ($1)', [id]);
  const { rows } = await pool.query<{ inRecovery: boolean }>('SELECT pg_is_in_recovery() AS "inRecovery"');
  expect(rows[0]?.inRecovery).toBe(false);
});

it('after the primary dies and the standby is promoted, the same pool writes to the new primary and every acknowledged commit is there', async () => {
  await primary.kill();
  // Nothing accepts writes until the promotion: a new connection fails, clearly.
  const finder = new PrimaryFinder(postgresServers(url), 1_000);
  await expect(finder.primaryUrl()).rejects.toBeInstanceOf(NoWritableServerError);
  await standby.promote();
  const inserted = await eventually(() => pool.query('INSERT INTO fixture.moves (id) VALUES (51) ON CONFLICT DO NOTHING RETURNING id'), 30_000);
  expect(inserted.rowCount).toBe(1);
  const { rows } = await pool.query<{ n: string; inRecovery: boolean }>('SELECT count(*)::text AS n, pg_is_in_recovery() AS "inRecovery" FROM fixture.moves');
  expect(rows[0]).toEqual({ n: '51', inRecovery: false });
  expect(await standby.replayLagBytes()).toBeNull();
}, 120_000);
