// One launcher for tests: a throwaway nats-server (JetStream, temp store) and
// PostgreSQL (initdb, free port) per suite, plus a valid config pointing at
// them. Nothing here touches the machine's own services.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { startNatsServer, startPostgres, freePort, type NatsServerHandle, type NatsServerOptions, type PostgresHandle } from '../../runtime/engines/index.js';
import { type Config, COMPONENT_NAMES } from '../../runtime/config/index.js';
import { validateConfig } from '../../cli/config.js';
import { createLogger, type Logger } from '../../runtime/log.js';
import { USSD_TEST_SECRET } from './ussd-phone.js';

export interface Stack {
  readonly nats: NatsServerHandle;
  readonly pg: PostgresHandle;
  readonly databaseUrl: string;
  readonly config: Config;
  /** The same config as a plain object, for writing to a YAML file for a child process. */
  readonly rawConfig: Record<string, unknown>;
  cleanup(): Promise<void>;
}

export const ROOT = new URL('../../', import.meta.url).pathname;

export function exampleConfigRaw(): Record<string, unknown> {
  return parse(readFileSync(`${ROOT}dialpay.example.yaml`, 'utf8')) as Record<string, unknown>;
}

export async function setupStack(options: { database?: string; natsServer?: NatsServerOptions } = {}): Promise<Stack> {
  const [nats, pg] = await Promise.all([startNatsServer(options.natsServer), startPostgres({ durable: false })]);
  const database = options.database ?? 'dialpay';
  await pg.createDatabase(database);
  const raw = exampleConfigRaw();
  raw.nats = { ...(raw.nats as object), url: nats.url };
  raw.postgres = { ...(raw.postgres as object), url: pg.urlFor(database) };
  const opsPorts: Record<string, number> = {};
  for (const name of COMPONENT_NAMES) opsPorts[name] = await freePort();
  raw.http = { host: '127.0.0.1', opsPorts };
  // Server-mode operators listen on a free port too, so suites never collide.
  for (const op of raw.operators as { smpp: { mode: string; port: number } }[]) if (op.smpp.mode === 'server') op.smpp.port = await freePort();
  const ussd = raw.ussd as { http: { port?: number; sharedSecret?: string } };
  ussd.http.port = await freePort();
  // The USSD edge runs as in production, wanting the aggregator's secret (test/support/ussd-phone.ts sends it).
  ussd.http.sharedSecret = USSD_TEST_SECRET;
  (raw.merchantApi as { port?: number }).port = await freePort();
  raw.log = { level: 'warn' };
  return {
    nats,
    pg,
    databaseUrl: pg.urlFor(database),
    config: validateConfig(structuredClone(raw)),
    rawConfig: raw,
    cleanup: async () => {
      await Promise.allSettled([nats.stop(), pg.stop()]);
    },
  };
}

/** Silent, unless DIALPAY_TEST_LOG names a level (debugging a failing suite). */
export function quietLogger(): Logger {
  return createLogger({ level: (process.env.DIALPAY_TEST_LOG as 'warn' | undefined) ?? 'silent' });
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Calls fn until it resolves (a cluster electing a leader, a promoted standby), rethrowing its last error after timeoutMs. */
export async function eventually<T>(fn: () => Promise<T>, timeoutMs: number, pauseMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  }
}
