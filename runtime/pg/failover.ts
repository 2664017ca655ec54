// Connecting to whichever server of a multi-host postgres.url accepts writes,
// the way libpq's target_session_attrs=read-write does: each server in order,
// the first whose `transaction_read_only` is off. The answer is kept until a
// connection to it fails; then the next connection asks again, so after the
// primary dies and a standby is promoted, the pool's new clients reach the new
// primary without a restart. Clients already connected to the dead primary fail
// and are dropped by the pool as on any server restart.
import pg from 'pg';
import { postgresServers, type PostgresServers } from './hosts.js';

export class NoWritableServerError extends Error {
  constructor(readonly tried: number, readonly reasons: readonly string[]) {
    super(`no server in postgres.url accepts writes (tried ${tried}: ${reasons.join('; ')})`);
    this.name = 'NoWritableServerError';
  }
}

/** Finds the writable server of a list, and forgets it when a connection to it fails. */
export class PrimaryFinder {
  #primaryUrl: string | null = null;
  #probing: Promise<string> | null = null;
  /** Times the writable server was looked for: after a start, and after each failure. */
  probes = 0;
  /**
   * Times the writable server found was another than the one before it: a failover (a standby
   * promoted) as this process saw it. The first server found is not one. Read by cluster-health.ts.
   */
  failovers = 0;
  /** The last writable server found; kept through forget(), so the next probe can tell a change. */
  #lastPrimaryUrl: string | null = null;

  constructor(readonly servers: PostgresServers, private readonly connectTimeoutMs: number) {}

  /** The writable server's URL, looked up when not known. */
  primaryUrl(): Promise<string> {
    if (this.#primaryUrl !== null) return Promise.resolve(this.#primaryUrl);
    this.#probing ??= this.#probe().finally(() => {
      this.#probing = null;
    });
    return this.#probing;
  }

  /** A connection to the known server failed: look again next time. */
  forget(): void {
    this.#primaryUrl = null;
  }

  async #probe(): Promise<string> {
    this.probes++;
    const reasons: string[] = [];
    for (const url of this.servers.urls) {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: this.connectTimeoutMs });
      client.on('error', () => undefined);
      try {
        await client.connect();
        const { rows } = await client.query<{ transaction_read_only: string }>('SHOW transaction_read_only');
        const readOnly = rows[0]?.transaction_read_only;
        if (readOnly === 'off' || !this.servers.readWrite) {
          if (this.#lastPrimaryUrl !== null && this.#lastPrimaryUrl !== url) this.failovers++;
          this.#lastPrimaryUrl = url;
          this.#primaryUrl = url;
          return url;
        }
        reasons.push(`${hostOf(url)} is read-only`);
      } catch (err) {
        reasons.push(`${hostOf(url)}: ${(err as Error).message}`);
      } finally {
        await client.end().catch(() => undefined);
      }
    }
    throw new NoWritableServerError(this.servers.urls.length, reasons);
  }
}

/** host:port of a single-host URL, for messages (never the password). */
function hostOf(url: string): string {
  const { host, port } = serverOf(url);
  return `${host}:${port}`;
}

/** Where a single-host URL connects: a `host` query parameter (a unix socket folder) wins over the URL's host, as in node-postgres. */
export function serverOf(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  const host = parsed.searchParams.get('host') ?? decodeURIComponent(parsed.hostname.replace(/^\[|\]$/g, ''));
  return { host: host || 'localhost', port: Number(parsed.port || 5432) };
}

type ConnectCallback = ((err: Error) => void) | ((err: null, client: pg.Client) => void);

/**
 * A pg.Client class for pg.Pool's `Client` option: each new client connects to the finder's
 * writable server. The server is chosen at connect time, not when the pool was made.
 */
export function failoverClientClass(finder: PrimaryFinder): typeof pg.Client {
  class FailoverClient extends pg.Client {
    override connect(): Promise<pg.Client>;
    override connect(callback: ConnectCallback): void;
    override connect(callback?: ConnectCallback): Promise<pg.Client> | void {
      const connected = this.#connectToPrimary();
      if (!callback) return connected;
      connected.then(
        (client) => (callback as (err: null, c: pg.Client) => void)(null, client),
        (err: Error) => (callback as (err: Error) => void)(err),
      );
    }

    async #connectToPrimary(): Promise<pg.Client> {
      const url = await finder.primaryUrl();
      const target = serverOf(url);
      const self = this as unknown as {
        host: string; port: number; connectionParameters: { host: string; port: number }; connection: { stream: { destroyed?: boolean } };
      };
      // The pool's connect timeout may have fired while the finder looked.
      if (self.connection.stream.destroyed) throw new Error('connection timed out while looking for the writable server');
      self.host = target.host;
      self.port = target.port;
      self.connectionParameters.host = self.host;
      self.connectionParameters.port = self.port;
      try {
        return await super.connect();
      } catch (err) {
        finder.forget();
        throw err;
      }
    }
  }
  return FailoverClient;
}

/** The writable server's single-host URL (the URL itself when it names one server): for migrations and one-off clients. */
export async function writableUrl(url: string, connectTimeoutMs: number): Promise<string> {
  const servers = postgresServers(url);
  if (servers.urls.length === 1 && !servers.readWrite) return url;
  return new PrimaryFinder(servers, connectTimeoutMs).primaryUrl();
}
