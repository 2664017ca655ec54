// An operator's contracted rate over every bind of every gateway replica: the
// share each replica takes, and the bucket its binds draw from.
import { expect, it } from 'vitest';
import { MEMBERS_MAX, OperatorThroughput, ReplicaShares, replicaShareOf } from '../../../gateway/smpp/replica-share.js';
import { SmppMetrics } from '../../../gateway/smpp/metrics.js';
import { createRegistry } from '../../../runtime/metrics.js';
import { quietLogger } from '../../support/stack.js';
import { TokenBucket } from '../../../gateway/smpp/throttle.js';

/** Messages a bucket lets through in `seconds`, asking every millisecond. */
function sentIn(bucket: TokenBucket, fromMs: number, seconds: number): number {
  let sent = 0;
  for (let t = fromMs; t < fromMs + seconds * 1_000; t++) if (bucket.take(t) === 0) sent++;
  return sent;
}

it('splits the contracted rate evenly over the live replicas, never over none or past the bound', () => {
  expect(replicaShareOf(300, 3)).toBe(100);
  expect(replicaShareOf(300, 1)).toBe(300);
  expect(replicaShareOf(300, 0)).toBe(300);
  expect(replicaShareOf(100, 3)).toBeCloseTo(33.333, 2);
  expect(replicaShareOf(6_400, 10_000)).toBe(6_400 / MEMBERS_MAX);
});

it('one bucket per operator: two binds drawing from it send the rate together, not twice it', () => {
  const t = new OperatorThroughput(100, 0);
  const [a, b] = [t.bucket, t.bucket];
  let sent = 0;
  for (let ms = 0; ms < 10_000; ms++) {
    if (a.take(ms) === 0) sent++;
    if (b.take(ms) === 0) sent++;
  }
  // 100/s for 10 s, plus the first burst of a tenth of a second.
  expect(sent).toBeGreaterThanOrEqual(1_000);
  expect(sent).toBeLessThanOrEqual(1_000 + 10);
});

it('a new replica count changes the rate from then on, and the burst with it', () => {
  const t = new OperatorThroughput(300, 0);
  expect(sentIn(t.bucket, 0, 10)).toBeLessThanOrEqual(3_000 + 30);
  expect(t.setReplicas(3, 10_000)).toBe(100);
  const afterMs = 10_000;
  const sent = sentIn(t.bucket, afterMs, 10);
  expect(sent).toBeGreaterThanOrEqual(995);
  expect(sent).toBeLessThanOrEqual(1_000 + 30);
  expect(t.setReplicas(1, 20_000)).toBe(300);
  expect(sentIn(t.bucket, 20_000, 10)).toBeGreaterThanOrEqual(2_990);
});

it('ReplicaShares follows the replica count: every operator\'s bucket at its share, the gauges showing both', async () => {
  const registry = createRegistry('gateway');
  const metrics = new SmppMetrics(registry);
  const throughputs = new Map([['op-a', new OperatorThroughput(300, 0)], ['op-b', new OperatorThroughput(90, 0)]]);
  let replicas = 3;
  const shares = new ReplicaShares(throughputs, () => replicas, metrics, quietLogger());
  expect(shares.apply(0)).toBe(3);
  expect([throughputs.get('op-a')?.bucket.ratePerSecond, throughputs.get('op-b')?.bucket.ratePerSecond]).toEqual([100, 30]);
  replicas = 0; // none heard, not even itself: never divide by less than one
  shares.apply(1_000);
  expect(throughputs.get('op-a')?.bucket.ratePerSecond).toBe(300);
  replicas = 2;
  shares.apply(2_000);
  const text = await registry.metrics();
  expect(text).toMatch(/dialpay_gateway_replicas_live\{[^}]*\} 2/);
  expect(text).toMatch(/dialpay_smpp_submit_rate_share_per_second\{[^}]*operator="op-b"[^}]*\} 45/);
});
