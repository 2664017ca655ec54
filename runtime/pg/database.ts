// The database itself, before any schema: create it when missing (`dialpay
// migrate`, `make run`), and say in one line what is wrong when it cannot be
// reached, instead of a stack trace.
import pg from 'pg';
import { writableUrl } from './failover.js';
import { postgresServers } from './hosts.js';

/** SQLSTATE 3D000: the database in the URL does not exist on that server. */
const INVALID_CATALOG_NAME = '3D000';
const PLAIN_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** The database a postgres:// URL names ("dialpay" when it names none). */
export function databaseName(url: string): string {
  return decodeURIComponent(new URL(postgresServers(url).urls[0] as string).pathname.replace(/^\//, '')) || 'dialpay';
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  return postgresServers(url).urls.map((u) => {
    const parsed = new URL(u);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  }).join(' or ');
}

/**
 * Creates the URL's database when it does not exist, through the server's maintenance database
 * ("postgres"). Returns true when it made it. The name must be a plain identifier, since CREATE
 * DATABASE takes no parameters.
 */
export async function ensureDatabase(url: string, connectTimeoutMs: number): Promise<boolean> {
  const database = databaseName(url);
  if (!PLAIN_IDENTIFIER.test(database)) {
    throw new Error(`postgres.url: database name "${database}" is not a plain identifier; create it by hand`);
  }
  const admin = new URL(await writableUrl(url, connectTimeoutMs));
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: connectTimeoutMs });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount !== 0) return false;
    await client.query(`CREATE DATABASE "${database}"`);
    return true;
  } catch (err) {
    // Another process created it between our look and our CREATE.
    if ((err as { code?: string }).code === '42P04') return false;
    throw err;
  } finally {
    await client.end();
  }
}

/** The error's own code, or its cause's (node-pg-migrate and AggregateError wrap the driver's). */
function errorCode(err: unknown, depth = 0): string | undefined {
  if (depth > 4 || typeof err !== 'object' || err === null) return undefined;
  const own = (err as { code?: unknown }).code;
  if (typeof own === 'string') return own;
  const nested = (err as { cause?: unknown; errors?: unknown[] });
  return errorCode(nested.cause, depth + 1)
    ?? (Array.isArray(nested.errors) ? nested.errors.map((e) => errorCode(e, depth + 1)).find(Boolean) : undefined);
}

/** One line for an operator when PostgreSQL cannot be used at `url`, or null when `err` is something else. Pure. */
export function explainPostgresError(err: unknown, url: string): string | null {
  const where = redactUrl(url);
  switch (errorCode(err)) {
    case INVALID_CATALOG_NAME:
      return `postgres.url: database "${databaseName(url)}" does not exist (${where}); `
        + `\`dialpay migrate\` creates it, or run \`createdb ${databaseName(url)}\``;
    case '28P01':
    case '28000':
      return `postgres.url: PostgreSQL refused the login (${where}); check the user and password`;
    case 'ECONNREFUSED':
      return `postgres.url: nothing answers at ${new URL(url).host} (${where}); is PostgreSQL running?`;
    case 'ENOTFOUND':
      return `postgres.url: host "${new URL(url).hostname}" not found (${where})`;
    default:
      return null;
  }
}
