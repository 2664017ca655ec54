// One NATS connection per process, reconnecting on its own; status changes
// are logged and exported so an on-call engineer sees a flapping link.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from '../log.js';
import { PubAckMux, type DurablePublish } from './pubacks.js';

export type { NatsConnection, JetStreamClient, JetStreamManager };

export interface NatsOptions {
  readonly url: string;
  readonly name: string;
  readonly connectTimeoutMs: number;
  readonly reconnectWaitMs: number;
  readonly reconnectAttemptsMax: number;
  readonly publishTimeoutMs: number;
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
  log.info({ url: redactUrl(options.url) }, 'nats connected');
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
