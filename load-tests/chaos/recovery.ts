// Throughput around a fault, from a per-second completion timeline: the rate
// before the fault, the dip, and how long after the fault ended the rate came
// back to a share of the rate before. Pure: the drills feed it their timeline.
import type { Timeline } from '../harness/phones.js';

export interface RecoveryOptions {
  readonly faultStartMs: number;
  readonly faultEndMs: number;
  /** Whole seconds before the fault that make the reference rate. */
  readonly beforeSeconds: number;
  /**
   * The load's own rate. The reference is never above it: a backlog from a slow start that drains
   * in the reference window would otherwise set a bar that steady load at the offered rate can't reach.
   */
  readonly offeredPerSecond: number;
  /** Share of the reference rate that counts as recovered, 0..1. */
  readonly recoveredShare: number;
  /** Consecutive whole seconds that must each be back at the share: a backlog flushed in one burst is not a recovery. */
  readonly windowSeconds: number;
  /** Judge only seconds that are over: those before this second. */
  readonly nowMs: number;
}

export interface Recovery {
  /** Completed payments per second over the seconds before the fault. */
  readonly beforePerSecond: number;
  /** What recovery is measured against: the rate before, at most the offered rate. */
  readonly referencePerSecond: number;
  /** The slowest second from the fault's start to the recovery (or to now). */
  readonly dipPerSecond: number;
  /** Seconds from the fault's start to the recovery (or to now) below the recovered share: how long users felt it. */
  readonly degradedSeconds: number;
  /** Milliseconds from the fault's end to the first run of windowSeconds seconds back at the share; null while not (yet) recovered. */
  readonly recoverMs: number | null;
}

export function measureRecovery(timeline: Timeline, o: RecoveryOptions): Recovery {
  const faultSecond = timeline.secondOf(o.faultStartMs);
  const endSecond = timeline.secondOf(o.faultEndMs);
  const doneSecond = timeline.secondOf(o.nowMs); // the current second is not over yet
  const beforePerSecond = timeline.sum('completed', faultSecond - o.beforeSeconds, faultSecond) / o.beforeSeconds;
  const referencePerSecond = Math.min(beforePerSecond, o.offeredPerSecond);
  const threshold = referencePerSecond * o.recoveredShare;
  let recoveredAt: number | null = null;
  const good = (s: number) => (timeline.completed[s] ?? 0) >= threshold;
  // The run may start in the second the fault ended: a fault the load never felt recovers in 0 ms.
  for (let s = endSecond; s + o.windowSeconds <= doneSecond; s++) {
    let run = 0;
    while (run < o.windowSeconds && good(s + run)) run++;
    if (run === o.windowSeconds) {
      recoveredAt = s;
      break;
    }
  }
  const until = recoveredAt ?? doneSecond;
  let dipPerSecond = Number.POSITIVE_INFINITY;
  let degradedSeconds = 0;
  for (let s = faultSecond; s < until; s++) {
    dipPerSecond = Math.min(dipPerSecond, timeline.completed[s] ?? 0);
    if (!good(s)) degradedSeconds++;
  }
  return {
    beforePerSecond,
    referencePerSecond,
    dipPerSecond: Number.isFinite(dipPerSecond) ? dipPerSecond : beforePerSecond,
    degradedSeconds,
    recoverMs: recoveredAt === null ? null : Math.max(0, timeline.startMs + recoveredAt * 1_000 - o.faultEndMs),
  };
}
