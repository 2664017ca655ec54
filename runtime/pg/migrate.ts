// Per-service schema migrations with node-pg-migrate. Each service owns one
// schema; the runtime's own tables (outbox, processed_events) are migrated
// into it first and tracked separately from the service's migrations.
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import type { Logger } from '../log.js';
import { quoteIdent } from './pool.js';
import { writableUrl } from './failover.js';

export interface SchemaMigrations {
  /** The service's schema, for example "payments". */
  readonly schema: string;
  /** Folder of the service's NNNN_name.sql files, or null if it only needs the runtime tables. */
  readonly dir: string | null;
}

const RUNTIME_MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
/**
 * node-pg-migrate takes a try-lock (one id for every schema) and throws at once when it is held.
 * Replicas and co-started components migrate together at start, so wait for our turn instead.
 */
const LOCK_HELD_PATTERN = /Another migration is already running/;
const LOCK_ATTEMPTS_MAX = 60;
const LOCK_RETRY_DELAY_MS = 500;

export async function migrateSchemas(
  url: string, sets: readonly SchemaMigrations[], log: Logger, connectTimeoutMs = 10_000,
): Promise<void> {
  // node-pg-migrate takes one server: the writable one of a multi-host URL.
  const databaseUrl = await writableUrl(url, connectTimeoutMs);
  for (const set of sets) {
    quoteIdent(set.schema); // asserts a plain identifier
    const dirs: [string, string][] = [[RUNTIME_MIGRATIONS_DIR, 'runtime_migrations']];
    if (set.dir) dirs.push([set.dir, 'migrations']);
    for (const [dir, table] of dirs) {
      const applied = await retryWhileLocked(() => runner({
        databaseUrl,
        dir,
        migrationsTable: table,
        migrationsSchema: set.schema,
        schema: set.schema,
        createSchema: true,
        createMigrationsSchema: true,
        direction: 'up',
        count: Infinity,
        checkOrder: true,
        singleTransaction: true,
        verbose: false,
        log: () => undefined,
      }));
      if (applied.length > 0) log.info({ schema: set.schema, applied: applied.map((m) => m.name) }, 'migrations applied');
    }
  }
}

async function retryWhileLocked<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (attempt >= LOCK_ATTEMPTS_MAX || !LOCK_HELD_PATTERN.test((err as Error).message)) throw err;
      await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_DELAY_MS));
    }
  }
}
