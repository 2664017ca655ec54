// An operator's contracted submit rate (operators[].smpp.throughputPerSecondMax)
// holds for the whole operator, across every bind of every gateway replica:
// each replica sends at most its share, the rate divided by the replicas alive
// now. The replicas find each other through a KV bucket (gateway_members): each
// writes its own key every few seconds, and an entry not renewed expires with
// the bucket's max age, so a killed replica's share goes back to the others
// within seconds. The count is read from the bucket's message count (history 1:
// one message per live key), which needs no consumer.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { KV } from '@nats-io/kv';
import type { Logger } from '../../runtime/log.js';
import type { Gauge } from '../../runtime/metrics.js';
import { TokenBucket, burstFor } from './throttle.js';

/** How often a replica renews its entry and counts the others. */
export const MEMBERS_HEARTBEAT_MS = 5_000;
/** The bucket's max age (topology.ts): an entry three heartbeats old is a replica gone. */
export const MEMBERS_TTL_MS = 3 * MEMBERS_HEARTBEAT_MS;
/** Replicas counted at most: a bound on the divisor, whatever the bucket holds. */
export const MEMBERS_MAX = 64;

/** This replica's share of an operator's rate. Pure. */
export function replicaShareOf(contractedPerSecond: number, liveReplicas: number): number {
  const replicas = Math.min(MEMBERS_MAX, Math.max(1, Math.floor(liveReplicas)));
  return contractedPerSecond / replicas;
}

/** One bucket per operator in this process, every bind of the operator drawing from it. */
export class OperatorThroughput {
  readonly bucket: TokenBucket;

  constructor(readonly contractedPerSecond: number, nowMs: number) {
    this.bucket = new TokenBucket(contractedPerSecond, burstFor(contractedPerSecond), nowMs);
  }

  /** Recomputes this replica's share; returns it. */
  setReplicas(liveReplicas: number, nowMs: number): number {
    const share = replicaShareOf(this.contractedPerSecond, liveReplicas);
    if (share !== this.bucket.ratePerSecond) this.bucket.setRate(share, nowMs);
    return share;
  }
}

/** A name for this process, unique among the replicas: host, pid and a random suffix (a restarted pid is a new member). */
export function memberId(): string {
  return `${hostname().replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40)}_${process.pid}_${randomBytes(3).toString('hex')}`;
}

/**
 * Keeps this replica's entry alive and tells `onCount` how many replicas are alive, after each
 * heartbeat. A heartbeat that fails (NATS away) keeps the last count: sending at the old share
 * is safer than assuming we are alone.
 */
export class GatewayMembers {
  readonly #id = memberId();
  #timer: NodeJS.Timeout | null = null;
  #beating: Promise<void> | null = null;
  #count = 1;

  constructor(
    private readonly kv: KV,
    private readonly onCount: (replicas: number) => void,
    private readonly log: Logger,
    private readonly gauge?: Gauge<string>,
  ) {}

  get count(): number {
    return this.#count;
  }

  async start(): Promise<void> {
    await this.beat();
    this.#timer = setInterval(() => void this.beat(), MEMBERS_HEARTBEAT_MS);
    this.#timer.unref();
  }

  /** Renews our entry and counts the live ones; one at a time. */
  beat(): Promise<void> {
    this.#beating ??= this.#beat().finally(() => {
      this.#beating = null;
    });
    return this.#beating;
  }

  async #beat(): Promise<void> {
    try {
      await this.kv.put(this.#id, String(Date.now()));
      const live = (await this.kv.status()).values;
      const count = Math.min(MEMBERS_MAX, Math.max(1, live));
      if (count !== this.#count) this.log.info({ replicas: count, was: this.#count }, 'gateway replicas changed: operator rate shares recomputed');
      this.#count = count;
      this.gauge?.set(count);
      this.onCount(count);
    } catch (err) {
      this.log.warn({ err }, 'gateway membership heartbeat failed; keeping the last replica count');
    }
  }

  /**
   * Stops beating. The entry is left to expire: a delete would leave a marker that the count
   * (the bucket's message count) still sees, so the others take our share within MEMBERS_TTL_MS.
   */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#beating;
  }
}
