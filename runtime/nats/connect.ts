// One NATS connection per process, reconnecting on its own; status changes
// are logged and exported so an on-call engineer sees a flapping link.
import { readFileSync } from 'node:fs';
import {
  connect, credsAuthenticator, nkeyAuthenticator, tokenAuthenticator, usernamePasswordAuthenticator,
  type Authenticator, type NatsConnection, type TlsOptions,
} from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from '../log.js';
import type { Config, NatsCredentials, NatsIdentity } from '../config/index.js';
import { PubAckMux, type DurablePublish } from './pubacks.js';

export type { NatsConnection, JetStreamClient, JetStreamManager };

export interface NatsOptions {
  readonly url: string;
  readonly name: string;
  readonly connectTimeoutMs: number;
  readonly reconnectWaitMs: number;
  readonly reconnectAttemptsMax: number;
  readonly publishTimeoutMs: number;
  /** None: anonymous (a server without authorization). */
  readonly auth?: NatsCredentials | undefined;
  readonly tls?: {
    readonly caFile?: string | undefined; readonly certFile?: string | undefined; readonly keyFile?: string | undefined;
  } | undefined;
  /**
   * Reply subjects start with this instead of _INBOX, so the server can let each identity
   * subscribe to its own replies only (permissions.ts).
   */
  readonly inboxPrefix?: string | undefined;
}

export interface NatsHandle {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /** Durable publishes on the hot paths (pubacks.ts); js.publish() for everything else. */
  readonly publisher: DurablePublish;
  /** True while the connection is up (not reconnecting, not closed). */
  connected(): boolean;
  close(): Promise<void>;
}

export async function connectNats(options: NatsOptions, log: Logger): Promise<NatsHandle> {
  const nc = await connect({
    servers: natsServers(options.url),
    name: options.name,
    ...(options.auth ? { authenticator: natsAuthenticator(options.auth) } : {}),
    ...(options.tls ? { tls: natsTlsOptions(options.tls) } : {}),
    ...(options.inboxPrefix ? { inboxPrefix: options.inboxPrefix } : {}),
    timeout: options.connectTimeoutMs,
    reconnect: true,
    reconnectTimeWait: options.reconnectWaitMs,
    maxReconnectAttempts: options.reconnectAttemptsMax,
    pingInterval: 10_000,
    maxPingOut: 3,
    // Otherwise every request (each JetStream publish) captures two stack traces up front:
    // a third of the gateway's CPU at load. PublishError names the subject and event id instead.
    noAsyncTraces: true,
  });
  let up = true;
  void (async () => {
    for await (const s of nc.status()) {
      switch (s.type) {
        case 'disconnect':
          up = false;
          log.warn({ server: s.server }, 'nats disconnected');
          break;
        case 'reconnect':
          up = true;
          log.info({ server: s.server }, 'nats reconnected');
          break;
        case 'reconnecting':
          up = false;
          break;
        case 'error':
          log.error({ err: s.error }, 'nats error');
          break;
        default:
          break;
      }
    }
  })();
  const js = jetstream(nc, { timeout: options.publishTimeoutMs });
  const jsm = await jetstreamManager(nc, { timeout: options.publishTimeoutMs });
  log.info({ url: redactUrl(options.url), ...describeNatsAuth(options) }, 'nats connected');
  const publisher = new PubAckMux(nc);
  return {
    nc,
    js,
    jsm,
    publisher,
    connected: () => up && !nc.isClosed(),
    close: async () => {
      if (!nc.isClosed()) await nc.drain();
      publisher.close();
    },
  };
}

/** Strips user:password@ from a URL (or a comma-separated list of them) before it is logged. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/,]*@/g, '//***@');
}

/** "nats://a:4222, nats://b:4222" as the client's list of seeds. */
export function natsServers(url: string): string[] {
  return url.split(',').map((u) => u.trim()).filter((u) => u !== '');
}

/** The connection options of one identity: its own credentials (nats.users.<identity>), else nats.auth. */
export function natsOptionsFor(nats: Config['nats'], identity: NatsIdentity, name = `dialpay-${identity}`): NatsOptions {
  return {
    url: nats.url,
    name,
    connectTimeoutMs: nats.connectTimeoutMs,
    reconnectWaitMs: nats.reconnectWaitMs,
    reconnectAttemptsMax: nats.reconnectAttemptsMax,
    publishTimeoutMs: nats.publishTimeoutMs,
    auth: nats.users[identity] ?? nats.auth,
    tls: nats.tls,
    inboxPrefix: inboxPrefixOf(identity),
  };
}

/** `_INBOX_gateway`: the reply subjects of one identity, which only it may subscribe to. */
export function inboxPrefixOf(identity: NatsIdentity): string {
  return `_INBOX_${identity}`;
}

/** What may be logged about a connection's credentials: the method and user name, never a secret. */
export function describeNatsAuth(options: Pick<NatsOptions, 'auth' | 'tls'>): { auth: string; user?: string; tls: boolean } {
  const a = options.auth;
  const tls = options.tls !== undefined;
  if (!a) return { auth: 'none', tls };
  if (a.user !== undefined) return { auth: 'password', user: a.user, tls };
  if (a.token !== undefined || a.tokenFile !== undefined) return { auth: 'token', tls };
  if (a.nkeySeed !== undefined || a.nkeySeedFile !== undefined) return { auth: 'nkey', tls };
  return { auth: 'creds', tls };
}

/**
 * One authenticator for the configured method. Files are read on every (re)connect, so a rotated
 * secret is picked up without a restart; the secret never leaves this closure.
 */
export function natsAuthenticator(auth: NatsCredentials, readFile: (path: string) => Buffer = readFileSync): Authenticator {
  const text = (path: string) => readFile(path).toString('utf8').trim();
  if (auth.user !== undefined) {
    const user = auth.user;
    const password = auth.password;
    const file = auth.passwordFile;
    return usernamePasswordAuthenticator(user, password !== undefined ? password : () => text(file as string));
  }
  if (auth.token !== undefined) return tokenAuthenticator(auth.token);
  if (auth.tokenFile !== undefined) {
    const file = auth.tokenFile;
    return tokenAuthenticator(() => text(file));
  }
  if (auth.nkeySeed !== undefined) return nkeyAuthenticator(new TextEncoder().encode(auth.nkeySeed));
  if (auth.nkeySeedFile !== undefined) {
    const file = auth.nkeySeedFile;
    return nkeyAuthenticator(() => new TextEncoder().encode(text(file)));
  }
  const file = auth.credsFile as string; // the schema admits exactly one method
  return credsAuthenticator(() => new Uint8Array(readFile(file)));
}

function natsTlsOptions(tls: NonNullable<NatsOptions['tls']>): TlsOptions {
  return {
    ...(tls.caFile ? { caFile: tls.caFile } : {}),
    ...(tls.certFile ? { certFile: tls.certFile } : {}),
    ...(tls.keyFile ? { keyFile: tls.keyFile } : {}),
  };
}
