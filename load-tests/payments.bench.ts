// make bench (payments): complete SMS payments end to end, the way production
// runs: gateway, payments and billing each their own process, nats-server and
// a durable PostgreSQL beside them, and the operator's SMSC simulated in this
// process. Thousands of phones each SEND money to another phone: SEND, the
// challenge, YES <code>, the debit, and two receipts (payer and payee) with
// their delivery receipts.
//
// Two phases: a fixed offered rate (open loop: a new payment starts every
// 1/rate seconds whatever the system does, so queueing shows in the latency),
// then saturation (closed loop: every phone pays again as soon as its last
// payment ends). Latency is from the YES leaving the phone to the payer's
// receipt arriving. At the end the invariants are checked.
import { benchMode, writeRecord, type Check, type Figure } from './harness/report.js';
import { LatencyRecorder } from './harness/latency.js';
import { ProcessWatch } from './harness/processes.js';
import { startCluster, type Cluster } from './harness/cluster.js';
import { checkInvariants } from './harness/invariants.js';
import { PG_STATEMENTS_SETTINGS, resetStatements, summarizeCpuProfiles, topStatements } from './harness/profile.js';
import { Phones, payAtRate, payerPhone, payeePhone, type Phase } from './harness/phones.js';

const mode = benchMode();
// Below saturation on purpose: the latency figure is what a subscriber sees when the system keeps up.
const OFFERED_PER_SECOND = Number(process.env.BENCH_OFFERED_PER_SECOND ?? (mode === 'full' ? 60 : 40));
const OFFERED_SECONDS = Number(process.env.BENCH_OFFERED_SECONDS ?? (mode === 'full' ? 60 : 10));
const SATURATION_SECONDS = Number(process.env.BENCH_SATURATION_SECONDS ?? (mode === 'full' ? 60 : 10));
const PHONES_PAYING = Number(process.env.BENCH_PHONES ?? (mode === 'full' ? 2_000 : 500));
const PHONES_IN_FLIGHT_MAX = Number(process.env.BENCH_IN_FLIGHT ?? 300);
async function saturation(phones: Phones): Promise<Phase & { elapsedMs: number }> {
  const phase: Phase = { completed: 0, errors: 0, latency: new LatencyRecorder() };
  const started = performance.now();
  const endAt = started + SATURATION_SECONDS * 1_000;
  await Promise.all(Array.from({ length: Math.min(PHONES_IN_FLIGHT_MAX, PHONES_PAYING) }, async (_, i) => {
    while (performance.now() < endAt) await phones.pay(payerPhone(i), payeePhone(i), phase);
  }));
  // Completed within the phase's own time: flows that ran past the end still count, over their real span.
  return { ...phase, elapsedMs: performance.now() - started };
}

/** BENCH_PROFILE=<folder>: each component runs with --cpu-prof into it, and PostgreSQL counts its statements. */
const PROFILE_DIR = process.env.BENCH_PROFILE ?? '';

async function main(): Promise<void> {
  const cluster = await startCluster({
    componentNodeArgs: PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [],
    postgresSettings: PROFILE_DIR ? PG_STATEMENTS_SETTINGS : [],
    components: ['billing', 'payments', 'gateway'],
    carrier: 'simulator',
    logLevel: 'warn',
    configure: (raw) => {
      Object.assign(raw.operators[0].smpp, { bindCount: 2, windowSize: 500, throughputPerSecondMax: 20_000 });
      raw.postgres.poolSizeMax = Number(process.env.BENCH_POOL ?? 20);
      raw.limits.paymentsPerMinuteMax = 1_000;
      raw.limits.pinRequiredAboveMinor = 10_000_000;
      raw.outbox = { pollIntervalMs: 20, batchSizeMax: 500 };
      raw.consumers = { ...raw.consumers, inFlightMax: Number(process.env.BENCH_CONSUMER_IN_FLIGHT ?? 256) };
    },
  });
  try {
    while (cluster.smsc.boundSessions < 2) await new Promise((r) => setTimeout(r, 50));
    cluster.smsc.submittedKeepMax = 1_000;
    const phones = new Phones(cluster);
    if (PROFILE_DIR) await resetStatements(cluster.databaseUrl);
    const watch = new ProcessWatch();
    for (const [name, pids] of cluster.processGroups()) watch.add(name, pids);
    watch.start();
    const offered = await payAtRate(phones, { perSecond: OFFERED_PER_SECOND, seconds: OFFERED_SECONDS, phoneCount: PHONES_PAYING });
    const saturated = await saturation(phones);
    const processes = watch.stop();
    const checks: Check[] = await checkInvariants({
      databaseUrl: cluster.databaseUrl,
      natsUrl: cluster.nats.url,
      mosAccepted: phones.mosAccepted,
      receipts: phones.receipts,
      payeeReceipts: true,
      settleTimeoutMs: 120_000,
      operators: cluster.config.operators,
    });
    const perSecond = (p: { completed: number; elapsedMs: number }) => Math.round((p.completed / p.elapsedMs) * 1_000);
    const figures: Figure[] = [
      { name: `completed payments at ${OFFERED_PER_SECOND}/s offered for ${OFFERED_SECONDS} s`, value: perSecond(offered), unit: '/s', latencyMs: offered.latency.summary() },
      { name: 'YES to receipt p99, offered rate', value: offered.latency.summary().p99, unit: 'ms', target: { op: '<=', value: 250 } },
      { name: `completed payments at saturation (${Math.min(PHONES_IN_FLIGHT_MAX, PHONES_PAYING)} phones, ${SATURATION_SECONDS} s)`, value: perSecond(saturated), unit: '/s', target: { op: '>=', value: 1_000 }, latencyMs: saturated.latency.summary() },
      { name: 'YES to receipt p99, saturation', value: saturated.latency.summary().p99, unit: 'ms', target: { op: '<=', value: 250 } },
    ];
    const notes = PROFILE_DIR ? await topStatements(cluster.databaseUrl, 12, offered.completed + saturated.completed) : [];
    await cluster.stop();
    // The CPU profiles are written as the components exit.
    if (PROFILE_DIR) notes.push('', ...summarizeCpuProfiles(PROFILE_DIR, (file) => cluster.pidNames.get(Number(file.split('.')[3])) ?? file, 12));
    writeRecord({
      bench: 'payments',
      title: 'Complete SMS payments, end to end',
      mode,
      setup: `SEND -> challenge -> YES -> debit -> payer and payee receipts (+ DLRs) over SMPP from a simulated SMSC; gateway, payments, billing as separate processes (simulated carrier in billing), nats-server, durable PostgreSQL, all on this machine. ${PHONES_PAYING} paying phones. No in-run baseline exists for a whole payment; the table compares against the targets.${PROFILE_DIR ? ' Profiled run (--cpu-prof and pg_stat_statements): slower than a plain run.' : ''}`,
      figures,
      processes,
      errors: offered.errors + saturated.errors + phones.mosRefused,
      checks,
      notes,
    });
    if (checks.some((c) => !c.ok)) process.exitCode = 1;
  } finally {
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
