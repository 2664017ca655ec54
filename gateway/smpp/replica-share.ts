// An operator's contracted submit rate (operators[].smpp.throughputPerSecondMax)
// holds for the whole operator, across every bind of every gateway replica:
// each replica sends at most its share, the rate divided by the replicas alive
// now (gateway/presence.ts), recomputed every second, so a killed replica's
// share goes back to the others within seconds. Its binds draw from one bucket.
import type { Logger } from '../../runtime/log.js';
import type { SmppMetrics } from './metrics.js';
import { TokenBucket, burstFor } from './throttle.js';

/** Replicas counted at most: a bound on the divisor. */
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

/** How often each operator's share is recomputed from the replica count. */
export const SHARE_INTERVAL_MS = 1_000;

/**
 * Keeps every operator's bucket at this replica's share: each SHARE_INTERVAL_MS it reads the
 * replicas alive (presence.ts) and sets each operator's rate, with the gauges showing both.
 */
export class ReplicaShares {
  #timer: NodeJS.Timeout | null = null;
  #count = 0;

  constructor(
    private readonly throughputs: ReadonlyMap<string, OperatorThroughput>,
    private readonly replicas: () => number,
    private readonly metrics: Pick<SmppMetrics, 'replicasLive' | 'submitRateShare'>,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.apply();
    this.#timer = setInterval(() => this.apply(), SHARE_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Recomputes every share now; returns the replica count it used. */
  apply(nowMs: number = Date.now()): number {
    const count = Math.min(MEMBERS_MAX, Math.max(1, this.replicas()));
    if (this.#count !== 0 && count !== this.#count) {
      this.log.info({ replicas: count, was: this.#count }, 'gateway replicas changed: operators\' submit rates shared out again');
    }
    this.#count = count;
    this.metrics.replicasLive.set(count);
    for (const [operatorId, t] of this.throughputs) this.metrics.submitRateShare.set({ operator: operatorId }, t.setReplicas(count, nowMs));
    return count;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
