// The fault drills' throughput arithmetic: the rate before a fault, the dip,
// the seconds below the recovered share, and the time from the fault's end to
// a run of seconds back at the share.
import { describe, expect, it } from 'vitest';
import { Timeline } from '../../load-tests/harness/phones.js';
import { measureRecovery } from '../../load-tests/chaos/recovery.js';

/** A timeline starting at 0 ms with these completions per second. */
function timelineOf(perSecond: readonly number[]): Timeline {
  const t = new Timeline(0);
  perSecond.forEach((n, second) => {
    for (let i = 0; i < n; i++) t.note('completed', second * 1_000 + 500);
  });
  return t;
}

const options = { beforeSeconds: 4, offeredPerSecond: 20, recoveredShare: 0.7, windowSeconds: 2 };

describe('measureRecovery', () => {
  it('measures from the end of the fault to the first run of good seconds', () => {
    //                          before (4 s)    fault 4..6.5  slow   back
    const t = timelineOf([20, 20, 20, 20, 5, 0, 0, 10, 20, 20, 20]);
    const r = measureRecovery(t, { ...options, faultStartMs: 4_000, faultEndMs: 6_500, nowMs: 11_000 });
    expect(r.beforePerSecond).toBe(20);
    expect(r.dipPerSecond).toBe(0);
    expect(r.degradedSeconds).toBe(4); // seconds 4, 5, 6, 7
    expect(r.recoverMs).toBe(1_500); // second 8 starts 1.5 s after the fault's end
  });

  it('does not take one burst of backlog for a recovery', () => {
    const t = timelineOf([20, 20, 20, 20, 0, 60, 0, 20, 20, 20]);
    const r = measureRecovery(t, { ...options, faultStartMs: 4_000, faultEndMs: 5_000, nowMs: 10_000 });
    expect(r.recoverMs).toBe(2_000);
  });

  it('reports a fault the load never felt as recovered at once', () => {
    const t = timelineOf([20, 20, 20, 20, 20, 20, 20]);
    const r = measureRecovery(t, { ...options, faultStartMs: 4_200, faultEndMs: 4_400, nowMs: 7_000 });
    expect(r.recoverMs).toBe(0);
    expect(r.degradedSeconds).toBe(0);
  });

  it('is not recovered while the seconds after the fault stay below the share, and ignores the second not yet over', () => {
    const t = timelineOf([20, 20, 20, 20, 0, 5, 5, 5, 30]);
    const r = measureRecovery(t, { ...options, faultStartMs: 4_000, faultEndMs: 4_500, nowMs: 8_500 });
    expect(r.recoverMs).toBeNull();
    expect(r.degradedSeconds).toBe(4);
  });

  it('measures against the offered rate when a slow start drained its backlog in the reference window', () => {
    // Offered 10/s; the reference window caught up on a backlog (14/s), then steady 8..10/s after the fault.
    const t = timelineOf([14, 15, 14, 14, 0, 0, 9, 8, 10, 9]);
    const r = measureRecovery(t, { ...options, offeredPerSecond: 10, faultStartMs: 4_000, faultEndMs: 5_000, nowMs: 10_000 });
    expect(r.beforePerSecond).toBeCloseTo(14.25);
    expect(r.referencePerSecond).toBe(10);
    expect(r.recoverMs).toBe(1_000); // seconds 6 and 7 are each at least 7/s
    // Against the measured 14.25/s (bar 9.98/s) those same seconds would never count.
    const unCapped = measureRecovery(t, { ...options, offeredPerSecond: 100, faultStartMs: 4_000, faultEndMs: 5_000, nowMs: 10_000 });
    expect(unCapped.recoverMs).toBeNull();
  });
});
