// One fault drill from `make chaos`, short: payments SIGKILLed under light
// steady load and started again. Runs the drill code itself (load-tests/chaos)
// on a cluster of real `dialpay` processes started from source, so `make test`
// covers it; the full set of drills is `make chaos`.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCluster, type Cluster } from '../../load-tests/harness/cluster.js';
import { Phones, Timeline } from '../../load-tests/harness/phones.js';
import { killComponent, waitBound } from '../../load-tests/chaos/faults.js';
import { chaosClusterOptions, runDrill, type ChaosSettings } from '../../load-tests/chaos/run.js';

let cluster: Cluster;

beforeAll(async () => {
  const options = chaosClusterOptions(['billing', 'payments', 'gateway']);
  cluster = await startCluster({
    ...options,
    configure: (raw) => {
      options.configure?.(raw);
      // What the killed process held comes back after the ack wait: short, to keep the test short.
      raw.consumers.ackWaitMs = 3_000;
    },
  });
  await waitBound(cluster, 30_000);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

it('SIGKILL of payments under load: throughput comes back, nothing lost, nothing moved twice', async () => {
  const phones = new Phones(cluster, { smsWaitMs: 20_000, moRetryDelaysMs: [500, 1_000, 2_000, 4_000] });
  const settings: ChaosSettings = {
    perSecond: 10,
    phoneCount: 300,
    beforeSeconds: 3,
    recoveredShare: 0.7,
    recoveryWindowSeconds: 2,
    // Generous: other suites share the two cores.
    recoveryTimeoutMs: 20_000,
    tailMs: 1_000,
    settleTimeoutMs: 30_000,
    timing: { outageMs: 1_000, throttleMs: 1_000, throttleAboveTps: 10, backTimeoutMs: 30_000 },
  };
  const result = await runDrill(cluster, phones, new Timeline(), killComponent('payments'), settings);
  const failed = result.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
  expect(failed).toEqual([]);
  expect(result.invariants.map((c) => c.name.split(' (')[0])).toEqual(expect.arrayContaining(['no MO lost', 'every receipt sent once', 'ledger sums to zero']));
  expect(result.completed).toBeGreaterThan(0);
  expect(result.recoverMs).not.toBeNull();
}, 90_000);
