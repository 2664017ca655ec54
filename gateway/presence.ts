// How many gateway replicas are alive now, so that each takes its share of what
// must hold for them all: a merchant key's rate limit (merchant-api/rate-limit.ts)
// and an operator's submit rate (smpp/replica-share.ts). Each replica says it is here on core NATS every
// PRESENCE_INTERVAL_MS (an empty message on dialpay.gateway.presence.<its id>:
// the subject is the whole message, no stream keeps it) and counts the ids it
// heard within PRESENCE_FORGET_MS, itself included.
//
// Why a share, not a shared counter: a counter in NATS KV or PostgreSQL costs a
// round trip (a RAFT write on a cluster) per request and fails closed or open
// when that store is away; a share costs one message a second per replica and
// nothing per request. The price: a key whose requests all land on one replica
// gets only that replica's share (load balancers spread keys' requests evenly),
// and while NATS is unreachable each replica counts only itself (a limit of up
// to N times, while every call it admits fails anyway: the API needs NATS).
// A replica that joins listens for a whole interval before it serves, so it
// never admits the whole limit beside the others; one that dies is counted
// for PRESENCE_FORGET_MS more, so the others admit less meanwhile, never more.
import { randomUUID } from 'node:crypto';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from '../runtime/log.js';
import { PRESENCE_SUBJECT_PREFIX } from '../runtime/nats/topology.js';
export const PRESENCE_INTERVAL_MS = 1_000;
/** Three missed announcements and a replica is taken to be gone. */
export const PRESENCE_FORGET_MS = 3_500;
/** Replicas remembered at most; more than this are counted as this many. */
const REPLICAS_MAX = 256;

export class GatewayPresence {
  readonly id = randomUUID();
  readonly #nc: NatsConnection;
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #forgetMs: number;
  /** Replica id -> when last heard (monotonic ms). */
  readonly #seen = new Map<string, number>();
  #subscription: Subscription | null = null;
  #timer: NodeJS.Timeout | null = null;

  constructor(options: { nc: NatsConnection; log: Logger; intervalMs?: number; forgetMs?: number }) {
    this.#nc = options.nc;
    this.#log = options.log;
    this.#intervalMs = options.intervalMs ?? PRESENCE_INTERVAL_MS;
    this.#forgetMs = options.forgetMs ?? PRESENCE_FORGET_MS;
  }

  /** Subscribes, announces itself, and resolves once it has listened for a whole interval (every live replica was heard). */
  async start(): Promise<void> {
    this.#subscription = this.#nc.subscribe(`${PRESENCE_SUBJECT_PREFIX}.*`, {
      callback: (err, msg) => {
        if (err) return;
        const id = msg.subject.slice(PRESENCE_SUBJECT_PREFIX.length + 1);
        if (id === this.id) return;
        if (!this.#seen.has(id) && this.#seen.size >= REPLICAS_MAX) return;
        this.#seen.set(id, performance.now());
      },
    });
    const announce = () => {
      try {
        this.#nc.publish(`${PRESENCE_SUBJECT_PREFIX}.${this.id}`);
      } catch (err) {
        this.#log.debug({ err }, 'could not announce this gateway replica; the others count it until they forget it');
      }
    };
    announce();
    this.#timer = setInterval(announce, this.#intervalMs);
    this.#timer.unref();
    await new Promise((r) => setTimeout(r, this.#intervalMs * 1.5));
  }

  /** Replicas serving now, this one included: at least 1. */
  replicas(): number {
    const now = performance.now();
    for (const [id, atMs] of this.#seen) if (now - atMs > this.#forgetMs) this.#seen.delete(id);
    return this.#seen.size + 1;
  }

  /** Stops announcing; the others forget this replica within PRESENCE_FORGET_MS. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#subscription?.drain().catch(() => undefined);
  }
}
