// What replication costs (issue 17): the same SMS payments on one nats-server
// with R1 streams and PostgreSQL alone, against a 3-node NATS cluster with R3
// streams and PostgreSQL with a synchronous standby, one process of gateway,
// payments and billing each in both, in the same run, alternating so the
// machine's noise falls on both. Per shape: completed payments a second at
// saturation (closed loop) and YES-to-receipt p99 at a fixed offered rate both
// shapes can carry. Medians over the runs; the ratio R3 / R1 is the figure.
import { benchMode, writeRecord, type Figure } from './harness/report.js';
import { paymentsBenchConfig, startCluster } from './harness/cluster.js';
import { Phones, payAtRate, payClosedLoop } from './harness/phones.js';
import { waitBound } from './chaos/faults.js';
import { median } from './stats.js';

const mode = benchMode();
const full = mode === 'full';
const env = process.env;
/** Pairs of runs (R1 then R3). */
const RUNS = Number(env.BENCH_RUNS ?? (full ? 3 : 1));
const SATURATION_SECONDS = Number(env.BENCH_SATURATION_SECONDS ?? (full ? 30 : 10));
const WARMUP_SECONDS = full ? 5 : 3;
/** Below both shapes' saturation on this machine, so p99 compares the same load. */
const OFFERED_PER_SECOND = Number(env.BENCH_OFFERED_PER_SECOND ?? 20);
const OFFERED_SECONDS = Number(env.BENCH_OFFERED_SECONDS ?? (full ? 20 : 8));
const PHONES = 300;
const IN_FLIGHT = 200;

type Shape = 'r1' | 'r3';
interface ShapeRun {
  readonly saturationPerSecond: number; readonly saturationP99Ms: number; readonly offeredP99Ms: number; readonly offeredP50Ms: number;
  readonly errors: number;
}

async function runShape(shape: Shape): Promise<ShapeRun> {
  const cluster = await startCluster({
    components: ['billing', 'payments', 'gateway'],
    carrier: 'simulator',
    logLevel: 'warn',
    ...(shape === 'r3' ? { natsNodes: 3, postgresStandby: true } : {}),
    configure: paymentsBenchConfig,
  });
  try {
    await waitBound(cluster, 60_000);
    cluster.smsc.submittedKeepMax = 1_000;
    const phones = new Phones(cluster);
    await payClosedLoop(phones, IN_FLIGHT, WARMUP_SECONDS);
    const offered = await payAtRate(phones, { perSecond: OFFERED_PER_SECOND, seconds: OFFERED_SECONDS, phoneCount: PHONES });
    const saturated = await payClosedLoop(phones, IN_FLIGHT, SATURATION_SECONDS);
    const o = offered.latency.summary();
    return {
      saturationPerSecond: Math.round((saturated.completed / saturated.elapsedMs) * 10_000) / 10,
      saturationP99Ms: saturated.latency.summary().p99,
      offeredP99Ms: o.p99,
      offeredP50Ms: o.p50,
      errors: offered.errors + saturated.errors,
    };
  } finally {
    await cluster.stop();
  }
}

async function main(): Promise<void> {
  const runs: Record<Shape, ShapeRun[]> = { r1: [], r3: [] };
  for (let i = 0; i < RUNS; i++) {
    for (const shape of ['r1', 'r3'] as const) {
      const r = await runShape(shape);
      runs[shape].push(r);
      process.stdout.write(`replication: run ${i + 1} ${shape}: ${r.saturationPerSecond}/s at saturation (p99 ${r.saturationP99Ms} ms), ` +
        `p99 ${r.offeredP99Ms} ms at ${OFFERED_PER_SECOND}/s offered\n`);
    }
  }
  const med = (shape: Shape, pick: (r: ShapeRun) => number) => median(runs[shape].map(pick));
  const figures: Figure[] = [
    { name: 'R1, one nats-server, PostgreSQL alone: completed payments at saturation (baseline)',
      value: med('r1', (r) => r.saturationPerSecond), unit: '/s', runs: runs.r1.map((r) => r.saturationPerSecond) },
    {
      name: 'R3, 3-node NATS cluster, PostgreSQL with a synchronous standby: completed payments at saturation',
      value: med('r3', (r) => r.saturationPerSecond), unit: '/s', runs: runs.r3.map((r) => r.saturationPerSecond),
      baseline: { name: 'R1', value: med('r1', (r) => r.saturationPerSecond) },
    },
    { name: `R1: YES to receipt p99 at ${OFFERED_PER_SECOND}/s offered (baseline)`, value: med('r1', (r) => r.offeredP99Ms), unit: 'ms',
      runs: runs.r1.map((r) => r.offeredP99Ms) },
    {
      name: `R3: YES to receipt p99 at ${OFFERED_PER_SECOND}/s offered`, value: med('r3', (r) => r.offeredP99Ms), unit: 'ms',
      runs: runs.r3.map((r) => r.offeredP99Ms),
      baseline: { name: 'R1', value: med('r1', (r) => r.offeredP99Ms) },
    },
    { name: 'R1: YES to receipt p99 at saturation', value: med('r1', (r) => r.saturationP99Ms), unit: 'ms' },
    { name: 'R3: YES to receipt p99 at saturation', value: med('r3', (r) => r.saturationP99Ms), unit: 'ms',
      baseline: { name: 'R1', value: med('r1', (r) => r.saturationP99Ms) } },
  ];
  const errors = [...runs.r1, ...runs.r3].reduce((n, r) => n + r.errors, 0);
  writeRecord({
    bench: 'replication',
    title: 'What replication costs: R1 on one node against R3 on a 3-node cluster with a PostgreSQL standby',
    mode,
    setup: `gateway, payments and billing (simulated carrier) as one process each, durable PostgreSQL, the payments bench's settings; ` +
      `shape R1: one nats-server, streams R1, PostgreSQL alone; shape R3: 3 nats-server nodes on loopback (routes through relays), every ` +
      `stream and KV bucket R3, PostgreSQL with a streaming standby that each commit waits for (synchronous_standby_names = '*'), ` +
      `postgres.url naming both. ${RUNS} pair(s) of runs, R1 then R3, each on a fresh stack: ${WARMUP_SECONDS} s warm-up, ` +
      `${OFFERED_PER_SECOND}/s offered for ${OFFERED_SECONDS} s (open loop, ${PHONES} phones), then saturation (closed loop, ` +
      `${IN_FLIGHT} phones, ${SATURATION_SECONDS} s). Medians over the runs.`,
    figures,
    processes: [],
    errors,
    checks: [{ name: 'both shapes completed payments', ok: med('r1', (r) => r.saturationPerSecond) > 0 && med('r3',
      (r) => r.saturationPerSecond) > 0,
    detail: `R1 ${med('r1', (r) => r.saturationPerSecond)}/s, R3 ${med('r3', (r) => r.saturationPerSecond)}/s` }],
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
