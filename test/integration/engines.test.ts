// The throwaway engines are the project's own: free ports, temp folders, and
// they survive a kill and restart with their data.
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { startNatsServer, startPostgres, type NatsServerHandle, type PostgresHandle } from '../../runtime/engines/index.js';

let nats: NatsServerHandle;
let postgres: PostgresHandle;

beforeAll(async () => {
  [nats, postgres] = await Promise.all([startNatsServer(), startPostgres({ durable: false })]);
});
afterAll(async () => {
  await Promise.allSettled([nats?.stop(), postgres?.stop()]);
});

it('never uses the machine-wide ports or folders', () => {
  expect(nats.port).not.toBe(4222);
  expect(postgres.port).not.toBe(5432);
  expect(nats.storeDir.startsWith(tmpdir())).toBe(true);
  expect(postgres.dataDir.startsWith(tmpdir())).toBe(true);
});

it('keeps JetStream data across a crash of nats-server', async () => {
  let nc = await connect({ servers: nats.url });
  let jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'KEEP', subjects: ['keep.>'] });
  await nc.close();
  await nats.kill();
  await nats.restart();
  nc = await connect({ servers: nats.url });
  jsm = await jetstreamManager(nc);
  expect((await jsm.streams.info('KEEP')).config.name).toBe('KEEP');
  await nc.close();
});

it('keeps committed rows across a crash of PostgreSQL', async () => {
  await postgres.createDatabase('keep');
  let client = new pg.Client({ connectionString: postgres.urlFor('keep') });
  await client.connect();
  await client.query('CREATE TABLE t (v BIGINT)');
  await client.query('INSERT INTO t VALUES (42)');
  await client.end();
  await postgres.kill();
  await postgres.restart();
  client = new pg.Client({ connectionString: postgres.urlFor('keep') });
  await client.connect();
  try {
    expect((await client.query('SELECT v FROM t')).rows[0].v).toBe('42');
  } finally {
    await client.end();
  }
});

it('hands out URLs through its unix socket, and still listens on TCP', async () => {
  const addressThrough = async (url: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query('SELECT inet_server_addr() AS addr')).rows[0].addr as string | null;
    } finally {
      await client.end();
    }
  };
  // inet_server_addr() is null on a unix-socket connection.
  expect(new URL(postgres.urlFor('postgres')).searchParams.get('host')).toBe(postgres.socketDir);
  expect(await addressThrough(postgres.urlFor('postgres'))).toBeNull();
  expect(await addressThrough(postgres.tcpUrlFor('postgres'))).toBe('127.0.0.1');
});
