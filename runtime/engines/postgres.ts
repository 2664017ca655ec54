// Starts a throwaway or project-owned PostgreSQL: initdb into its own folder
// (as the postgres user when we are root), pg_ctl on a port of our choosing,
// socket inside the data folder so nothing touches the machine's own server.
// The URLs it hands out use that unix socket: on loopback TCP the sender pays
// for the receiver's TCP path too, and profiles of the payments bench showed
// half of the payments process's CPU in writev to PostgreSQL.
import { chownSync, existsSync, mkdtempSync, mkdirSync, chmodSync, readFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { asUser, execFileAsync, findBinary, freePort, postgresBinDirs, waitForPort } from './process.js';

export interface PostgresHandle {
  /** URL of the "postgres" database as superuser "postgres", through the unix socket. */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** The folder holding the server's unix socket (.s.PGSQL.<port>); owned by the server's user. */
  readonly socketDir: string;
  /** URL of `database` through the unix socket (see socketUrl). */
  urlFor(database: string): string;
  /** URL of `database` over TCP on 127.0.0.1, for a client that must use the network path. */
  tcpUrlFor(database: string): string;
  createDatabase(name: string): Promise<void>;
  stop(): Promise<void>;
  /** Immediate shutdown, as in a crash (pg_ctl stop -m immediate). */
  kill(): Promise<void>;
  restart(): Promise<void>;
  /** The postmaster's process id (from postmaster.pid), for CPU and memory readings; null while stopped. */
  pid(): number | null;
}

export interface PostgresOptions {
  readonly port?: number;
  /** Data folder; a fresh temp folder when omitted. Reused if it already holds a cluster. */
  readonly dataDir?: string;
  /**
   * false: fsync off, for tests only. A crash of the server process still keeps
   * every acknowledged commit (the WAL reaches the OS at commit); only a crash
   * of the machine would lose data. synchronous_commit stays on, deliberately:
   * with it off, a killed server forgets commits it already acknowledged.
   */
  readonly durable?: boolean;
  readonly startTimeoutMs?: number;
  /** Extra server settings, for example ['shared_preload_libraries=pg_stat_statements'] for a benchmark. */
  readonly settings?: readonly string[];
}

/**
 * `url` with a `host` query parameter naming a unix socket folder. node-postgres
 * (pg-connection-string) and libpq both let that parameter override the URL's
 * host, and take the socket file's name from the URL's port, so the URL stays an
 * ordinary postgres:// URL (parsable by `new URL`, same port and database) that
 * connects through <socketDir>/.s.PGSQL.<port>.
 */
export function socketUrl(url: string, socketDir: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('host', socketDir);
  return parsed.toString();
}

function pgBinary(name: string): string {
  const found = findBinary(name, postgresBinDirs());
  if (!found) throw new Error(`${name} is not installed: run \`make setup\` (Debian package postgresql)`);
  return found;
}

/** PostgreSQL refuses to run as root: when we are root, the server runs as the postgres user. */
function serverUser(): string | null {
  return userInfo().uid === 0 ? 'postgres' : null;
}

/** A data folder (and its fresh temp parent, if any) that the server's user owns, mode 0700. */
async function ownDataDir(dataDir: string, tempParent: string | null): Promise<void> {
  const runAs = serverUser();
  mkdirSync(dataDir, { recursive: true });
  chmodSync(dataDir, 0o700);
  if (!runAs) return;
  const { stdout } = await execFileAsync('id', ['-u', runAs]);
  const { stdout: gid } = await execFileAsync('id', ['-g', runAs]);
  chownSync(dataDir, Number(stdout.trim()), Number(gid.trim()));
  if (tempParent) chownSync(tempParent, Number(stdout.trim()), Number(gid.trim()));
}

export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresHandle> {
  const initdb = pgBinary('initdb');
  const pgCtl = pgBinary('pg_ctl');
  const runAs = serverUser();
  const port = options.port ?? (await freePort());
  const tempParent = options.dataDir ? null : mkdtempSync(join(tmpdir(), 'dialpay-pg-'));
  const dataDir = options.dataDir ?? join(tempParent as string, 'data');
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  await ownDataDir(dataDir, tempParent);
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    const [cmd, args] = asUser(runAs, initdb, ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
    await execFileAsync(cmd, args, { timeout: 120_000 });
  }
  const serverOptions = [
    `-p ${port}`,
    `-k ${dataDir}`,
    '-c listen_addresses=127.0.0.1',
    '-c max_connections=200',
    ...(options.durable === false ? ['-c fsync=off', '-c full_page_writes=off'] : []),
    ...(options.settings ?? []).map((setting) => `-c ${setting}`),
  ].join(' ');

  const start = async (): Promise<void> => {
    const [cmd, args] = asUser(runAs, pgCtl, ['-D', dataDir, '-o', serverOptions, '-l', join(dataDir, 'server.log'),
      '-w', '-t', String(Math.ceil(startTimeoutMs / 1000)), 'start']);
    await execFileAsync(cmd, args, { timeout: startTimeoutMs + 5_000 });
    await waitForPort('127.0.0.1', port, startTimeoutMs, 'postgres');
  };
  const stopWith = async (mode: 'fast' | 'immediate'): Promise<void> => {
    const [cmd, args] = asUser(runAs, pgCtl, ['-D', dataDir, '-m', mode, '-w', 'stop']);
    await execFileAsync(cmd, args, { timeout: 60_000 }).catch((err: Error) => {
      if (!/not running|No such file|does not exist/i.test(`${err.message}`)) throw err;
    });
  };

  await start();
  const tcpUrlFor = (database: string) => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const urlFor = (database: string) => socketUrl(tcpUrlFor(database), dataDir);
  return {
    url: urlFor('postgres'),
    port,
    dataDir,
    socketDir: dataDir,
    urlFor,
    tcpUrlFor,
    pid: () => {
      try {
        return Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]) || null;
      } catch {
        return null;
      }
    },
    createDatabase: async (name: string) => {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new TypeError(`bad database name ${name}`);
      const pg = (await import('pg')).default;
      const client = new pg.Client({ connectionString: urlFor('postgres') });
      await client.connect();
      try {
        const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
        if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${name}"`);
      } finally {
        await client.end();
      }
    },
    stop: () => stopWith('fast'),
    kill: () => stopWith('immediate'),
    restart: start,
  };
}

export interface StandbyOptions {
  /**
   * The primary waits for this standby to flush each commit before acknowledging it
   * (synchronous_standby_names = '*'): a failover then loses no acknowledged commit, which money
   * needs. The cost: while the standby is down, commits on the primary wait.
   */
  readonly synchronous?: boolean;
}

async function queryOne<T>(url: string, sql: string): Promise<T | undefined> {
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows[0] as T | undefined;
  } finally {
    await client.end();
  }
}

export interface StandbyHandle extends PostgresHandle {
  /** Makes the standby a primary (pg_ctl promote), waiting until it accepts writes. */
  promote(): Promise<void>;
  /** Bytes of WAL received but not yet replayed, or null once promoted. */
  replayLagBytes(): Promise<bigint | null>;
}

/**
 * A streaming standby of `primary` on its own port and folder: pg_basebackup with -R writes
 * primary_conninfo and standby.signal, so the server starts replicating from the primary's TCP
 * port. initdb's trust rules already admit replication connections from 127.0.0.1.
 */
export async function startStandby(
  primary: PostgresHandle, options: Omit<PostgresOptions, 'dataDir'> & StandbyOptions = {},
): Promise<StandbyHandle> {
  const pgBasebackup = pgBinary('pg_basebackup');
  const pgCtl = pgBinary('pg_ctl');
  const runAs = serverUser();
  const tempParent = mkdtempSync(join(tmpdir(), 'dialpay-pg-standby-'));
  const dataDir = join(tempParent, 'data');
  await ownDataDir(dataDir, tempParent);
  const [cmd, args] = asUser(runAs, pgBasebackup, ['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres',
    '-D', dataDir, '-R', '-X', 'stream', '-c', 'fast', '--no-sync']);
  await execFileAsync(cmd, args, { timeout: 120_000 });
  const handle = await startPostgres({ ...options, dataDir });
  const query = <T>(sql: string) => queryOne<T>(handle.urlFor('postgres'), sql);
  if (options.synchronous) {
    await queryOne(primary.urlFor('postgres'), "ALTER SYSTEM SET synchronous_standby_names = '*'");
    await queryOne(primary.urlFor('postgres'), 'SELECT pg_reload_conf()');
  }
  return {
    ...handle,
    promote: async () => {
      const [promoteCmd, promoteArgs] = asUser(runAs, pgCtl, ['-D', dataDir, '-w', '-t', '60', 'promote']);
      await execFileAsync(promoteCmd, promoteArgs, { timeout: 65_000 });
    },
    replayLagBytes: async () => {
      const row = await query<{ lag: string | null }>(`SELECT CASE WHEN pg_is_in_recovery()
        THEN pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text END AS lag`);
      return row?.lag == null ? null : BigInt(row.lag.replace(/\..*$/, ''));
    },
  };
}
