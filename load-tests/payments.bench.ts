// make bench (payments): complete SMS payments end to end, the way production
// runs: gateway, payments and billing each their own process, nats-server and
// a durable PostgreSQL beside them, and the operator's SMSC simulated in this
// process. Thousands of phones each SEND money to another phone: SEND, the
// challenge, YES <code>, the debit, and two receipts (payer and payee) with
// their delivery receipts.
//
// Three phases: two fixed offered rates (open loop: a new payment starts every
// 1/rate seconds whatever the system does, so queueing shows in the latency; at
// most a bounded number in flight, the rest counted as not started), then
// saturation (closed loop: every phone pays again as soon as its last payment
// ends). Latency is from the YES leaving the phone to the payer's receipt
// arriving. Over each phase the bench counts issue 15's budget per completed
// payment: PostgreSQL commits and statements, durable JetStream messages, CPU
// of every process. Commits and messages at saturation are checks; the rest
// are figures. Then the invariants, and last a short saturation phase of the
// same phones against a bare echo gateway (smpp/echo-gateway.ts): the
// baseline for throughput and p99.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchMode, readRecord, withPrevious, writeRecord, type Check, type Figure } from './harness/report.js';
import type { LatencySummaryMs } from './harness/latency.js';
import { ProcessWatch, pidOf, type ProcessUsage } from './harness/processes.js';
import { LOAD_GENERATOR_GROUP, paymentsBenchConfig, startCluster } from './harness/cluster.js';
import { checkInvariants } from './harness/invariants.js';
import { PG_STATEMENTS_SETTINGS, summarizeCpuProfiles, topStatements } from './harness/profile.js';
import { Phones, payAtRate, payClosedLoop, type Phase } from './harness/phones.js';
import { BUDGET, between, budgetChecks, describeStreams, lessIdle, perPayment, type CounterDelta,
  type PerPayment } from './harness/budget.js';
import { PG_STATS_SETTLE_MS, SystemCounters } from './harness/counters.js';
import { SmscSimulator } from '../operator-sim/index.js';

const mode = benchMode();
const full = mode === 'full';
const env = process.env;
/** The budget's rate (p99 target at 1,000/s offered); quick mode offers less. */
const HIGH_PER_SECOND = Number(env.BENCH_OFFERED_PER_SECOND ?? (full ? 1_000 : 300));
const LOW_PER_SECOND = Number(env.BENCH_OFFERED_LOW_PER_SECOND ?? (full ? 300 : 100));
const OFFERED_SECONDS = Number(env.BENCH_OFFERED_SECONDS ?? (full ? 60 : 10));
const SATURATION_SECONDS = Number(env.BENCH_SATURATION_SECONDS ?? (full ? 60 : 10));
const ECHO_SECONDS = Number(env.BENCH_ECHO_SECONDS ?? (full ? 15 : 5));
const PHONES_PAYING = Number(env.BENCH_PHONES ?? (full ? 2_000 : 500));
/** Closed loop: phones paying at once at saturation. */
const PHONES_IN_FLIGHT_MAX = Math.min(Number(env.BENCH_IN_FLIGHT ?? 300), PHONES_PAYING);
/** Open loop: payments in flight at most; a payment due beyond it is not started (and counted). */
const OPEN_IN_FLIGHT_MAX = Math.min(Number(env.BENCH_OPEN_IN_FLIGHT ?? 1_000), PHONES_PAYING);
/** How long the idle system is watched before the load, for what it does with no payments (outbox polls). */
const IDLE_WINDOW_MS = 5_000;
/** BENCH_PROFILE=<folder>: each component runs with --cpu-prof into it, and the top statements are listed. */
const PROFILE_DIR = env.BENCH_PROFILE ?? '';
const here = fileURLToPath(new URL('.', import.meta.url));

interface RunResult extends Phase {
  readonly elapsedMs: number;
  readonly offered?: number;
  readonly notStarted?: number;
}

interface MeasuredPhase {
  readonly label: string;
  readonly result: RunResult;
  readonly work: CounterDelta;
  readonly per: PerPayment;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const perSecond = (p: { completed: number; elapsedMs: number }) => Math.round((p.completed / p.elapsedMs) * 1_000);

/** Closed loop at saturation (phones.ts). */
const saturation = (phones: Phones, phoneCount: number, seconds: number): Promise<RunResult> => payClosedLoop(phones, phoneCount, seconds);

/**
 * Runs one phase between two readings of the counters. The second waits until PostgreSQL has
 * flushed every backend's statistics; what the idle system does over that wait is taken off.
 */
async function measure(counters: SystemCounters, idle: CounterDelta, label: string, run: () => Promise<RunResult>): Promise<MeasuredPhase> {
  await counters.resetStatements();
  const before = await counters.read();
  const result = await run();
  const endedAtMs = performance.now();
  await sleep(PG_STATS_SETTLE_MS);
  const after = await counters.read();
  const work = lessIdle(between(before, after), idle, after.atMs - endedAtMs);
  return { label, result, work, per: perPayment(work, result.completed, LOAD_GENERATOR_GROUP) };
}

/** The budget's figures of one phase; targets on every phase, checks only at saturation. */
function budgetFigures(p: MeasuredPhase): Figure[] {
  return [
    { name: `PostgreSQL commits per payment, ${p.label}`, value: p.per.commits, unit: 'commits',
      target: { op: '<=', value: BUDGET.commitsPerPaymentMax } },
    { name: `PostgreSQL rollbacks per payment, ${p.label}`, value: p.per.rollbacks, unit: 'rollbacks' },
    { name: `SQL statements per payment (BEGIN/COMMIT not counted), ${p.label}`, value: p.per.statements, unit: 'statements' },
    { name: `durable JetStream messages per payment, ${p.label}`, value: p.per.jetstreamMessages, unit: 'messages',
      target: { op: '<=', value: BUDGET.jetstreamMessagesPerPaymentMax } },
    { name: `CPU per payment, all system processes, ${p.label}`, value: p.per.systemCpuMs, unit: 'ms',
      target: { op: '<=', value: BUDGET.cpuMsPerPaymentMax } },
    { name: `CPU per payment, load generator + SMSC sim (not in the budget), ${p.label}`, value: p.per.loadGeneratorCpuMs, unit: 'ms' },
  ];
}

function phaseNote(p: MeasuredPhase): string {
  const r = p.result;
  const offered = r.offered === undefined
    ? '' : `${r.offered} offered, ${r.notStarted ?? 0} not started (${OPEN_IN_FLIGHT_MAX} already in flight), `;
  const cpu = [...p.work.cpuSecondsByGroup].map(([group,
    s]) => `${group} ${r.completed > 0 ? ((s * 1_000) / r.completed).toFixed(2) : '-'}`).join(', ');
  return `- ${p.label}: ${offered}${r.completed} completed, ${r.errors} failed; durable messages per payment by stream: ` +
    `${describeStreams(p.per)}; CPU ms per payment by process: ${cpu}.`;
}

/** The same phones against the bare echo gateway on a fresh SMSC simulator: the in-run baseline. */
async function echoBaseline(): Promise<{ result: RunResult; processes: ProcessUsage[]; refused: number }> {
  const smsc = new SmscSimulator({ systemId: 'dialpay', password: 'secret1', receiptDelayMs: 50 });
  const port = await smsc.start();
  smsc.submittedKeepMax = 1_000;
  const echo = spawn(process.execPath, [join(here, 'smpp', 'echo-gateway.js'), String(port)], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    const deadline = Date.now() + 10_000;
    while (smsc.boundSessions < 1) {
      if (Date.now() > deadline || echo.exitCode !== null) throw new Error('the echo gateway did not bind');
      await sleep(50);
    }
    const phones = new Phones({ smsc });
    const watch = new ProcessWatch().add('bare echo gateway (baseline phase)',
      () => pidOf(echo.pid)).add('load generator + SMSC sim (baseline phase)', () => [process.pid]);
    watch.start();
    const result = await saturation(phones, PHONES_IN_FLIGHT_MAX, ECHO_SECONDS);
    return { result, processes: watch.stop(), refused: phones.mosRefused };
  } finally {
    echo.kill('SIGTERM');
    await smsc.stop();
  }
}

async function main(): Promise<void> {
  const previous = readRecord('payments');
  const cluster = await startCluster({
    componentNodeArgs: PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [],
    // Always: statements per payment is part of the record.
    postgresSettings: PG_STATEMENTS_SETTINGS,
    components: ['billing', 'payments', 'gateway'],
    carrier: 'simulator',
    logLevel: 'warn',
    configure: paymentsBenchConfig,
  });
  let counters: SystemCounters | null = null;
  try {
    while (cluster.smsc.boundSessions < 2) await sleep(50);
    cluster.smsc.submittedKeepMax = 1_000;
    const phones = new Phones(cluster);
    const watch = new ProcessWatch();
    for (const [name, pids] of cluster.processGroups()) watch.add(name, pids);
    watch.start();
    counters = await SystemCounters.open(cluster.databaseUrl, cluster.nats.url, watch);
    // What the system does with no payments, so the settle after each phase can be taken off.
    await sleep(PG_STATS_SETTLE_MS);
    await counters.resetStatements();
    const idleStart = await counters.read();
    await sleep(IDLE_WINDOW_MS);
    const idle = between(idleStart, await counters.read());

    const offeredRun = (rate: number) => () => payAtRate(phones, { perSecond: rate, seconds: OFFERED_SECONDS, phoneCount: PHONES_PAYING,
      inFlightMax: OPEN_IN_FLIGHT_MAX });
    const high = await measure(counters, idle, `${HIGH_PER_SECOND.toLocaleString('en')}/s offered`, offeredRun(HIGH_PER_SECOND));
    const low = await measure(counters, idle, `${LOW_PER_SECOND.toLocaleString('en')}/s offered`, offeredRun(LOW_PER_SECOND));
    const saturated = await measure(counters, idle, 'saturation', () => saturation(phones, PHONES_IN_FLIGHT_MAX, SATURATION_SECONDS));
    // pg_stat_statements was reset at the start of the saturation phase: its top statements are that phase's.
    const notes = PROFILE_DIR ? ['Top statements of the saturation phase (BENCH_PROFILE):', '',
      ...(await topStatements(cluster.databaseUrl, 12, saturated.result.completed)), ''] : [];
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
    checks.push(...budgetChecks('saturation', saturated.per));
    await counters.close();
    counters = null;
    await cluster.stop();
    // The CPU profiles are written as the components exit.
    if (PROFILE_DIR) {
      notes.push('', ...summarizeCpuProfiles(PROFILE_DIR, (file) => cluster.pidNames.get(Number(file.split('.')[3])) ?? file, 12));
    }

    // The baseline runs alone, after the stack is gone, on the same machine.
    const echo = await echoBaseline();
    const echoName = 'bare smpp echo gateway, same phones';
    const latency = (p: MeasuredPhase): LatencySummaryMs => p.result.latency.summary();
    const saturatedLabel = `${PHONES_IN_FLIGHT_MAX} phones, ${SATURATION_SECONDS} s`;
    const figures: Figure[] = withPrevious([
      { name: `completed payments at ${high.label} for ${OFFERED_SECONDS} s`, value: perSecond(high.result), unit: '/s',
        latencyMs: latency(high) },
      { name: `YES to receipt p99, ${high.label}`, value: latency(high).p99, unit: 'ms',
        target: { op: '<=', value: BUDGET.yesToReceiptP99MsMax } },
      { name: `completed payments at ${low.label} for ${OFFERED_SECONDS} s`, value: perSecond(low.result), unit: '/s',
        latencyMs: latency(low) },
      { name: `YES to receipt p99, ${low.label}`, value: latency(low).p99, unit: 'ms' },
      { name: `completed payments at saturation (${saturatedLabel})`, value: perSecond(saturated.result), unit: '/s',
        target: { op: '>=', value: BUDGET.completedPerSecondMin }, baseline: { name: echoName, value: perSecond(echo.result) },
        latencyMs: latency(saturated) },
      { name: 'YES to receipt p99, saturation', value: latency(saturated).p99, unit: 'ms',
        target: { op: '<=', value: BUDGET.yesToReceiptP99MsMax }, baseline: { name: echoName, value: echo.result.latency.summary().p99 } },
      ...budgetFigures(high),
      ...budgetFigures(low),
      ...budgetFigures(saturated),
      { name: `${echoName}, saturation (${PHONES_IN_FLIGHT_MAX} phones, ${ECHO_SECONDS} s) (baseline)`, value: perSecond(echo.result),
        unit: '/s', latencyMs: echo.result.latency.summary() },
    ], previous, mode);
    const idleSeconds = idle.elapsedMs / 1_000;
    let idleMessages = 0;
    for (const n of idle.messagesByStream.values()) idleMessages += n;
    let idleCpuSeconds = 0;
    for (const [group, s] of idle.cpuSecondsByGroup) if (group !== LOAD_GENERATOR_GROUP) idleCpuSeconds += s;
    notes.unshift(
      'Per phase (the budget counts over the phase and the settle after it, less the idle rate over the settle):',
      ...[high, low, saturated].map(phaseNote),
      `- idle system, before the load: ${(idle.commits / idleSeconds).toFixed(0)} commits/s, ` +
        `${(idle.statements / idleSeconds).toFixed(0)} statements/s, ${(idleMessages / idleSeconds).toFixed(1)} JetStream messages/s, ` +
        `${((idleCpuSeconds * 1_000) / idleSeconds).toFixed(0)} ms CPU/s (outbox polls and the like).`,
      `- echo baseline: ${echo.result.completed} completed, ${echo.result.errors} failed, ${echo.refused} MOs refused.`,
      previous && previous.mode === mode ? `Previous record (the previous record column): finished ` +
        `${previous.finishedAt ?? 'at an unknown time'}.` : `No previous ${mode} record to compare with.`,
      '',
    );
    writeRecord({
      bench: 'payments',
      title: 'Complete SMS payments, end to end',
      mode,
      setup: `SEND -> challenge -> YES -> debit -> payer and payee receipts (+ DLRs) over SMPP from a simulated SMSC; gateway, payments, ` +
        `billing as separate processes (simulated carrier in billing), nats-server, durable PostgreSQL (pg_stat_statements loaded), all ` +
        `on this machine. ${PHONES_PAYING} paying phones. Phases: ${HIGH_PER_SECOND}/s and ${LOW_PER_SECOND}/s offered for ` +
        `${OFFERED_SECONDS} s each (open loop, at most ${OPEN_IN_FLIGHT_MAX} payments in flight: one due beyond that is not started, and ` +
        `counted), then saturation (closed loop, ${PHONES_IN_FLIGHT_MAX} phones, ${SATURATION_SECONDS} s). Issue 15's budget per ` +
        `completed payment, counted over each phase: PostgreSQL commits (pg_stat_database.xact_commit over the cluster's databases, ` +
        `read-only autocommit statements included) and rollbacks, statements (pg_stat_statements, reset per phase), durable JetStream ` +
        `messages (last_seq over every stream, KV and DLQ included), CPU from /proc of every system process (PostgreSQL with all its ` +
        `backends) and, apart, of the load generator. Each phase is read again ${PG_STATS_SETTLE_MS / 1_000} s after it ends (PostgreSQL ` +
        `flushes an idle backend's statistics that late), less what the idle system does over that wait. The bench fails when commits or ` +
        `durable messages per payment at saturation exceed the budget (counts, steady on a noisy machine); CPU, throughput and p99 are ` +
        `figures with targets. Baseline: the same phones at saturation for ${ECHO_SECONDS} s against a bare echo gateway on the smpp ` +
        `package (smpp/echo-gateway.ts: answers SEND with a code and YES with both receipts, nothing stored), run alone after the stack ` +
        `stopped. The process table covers the whole run, idle and settle periods ` +
        `included.${PROFILE_DIR ? ' Profiled run (--cpu-prof): slower than a plain run.' : ''}`,
      figures,
      processes: [...processes, ...echo.processes],
      errors: high.result.errors + low.result.errors + saturated.result.errors + phones.mosRefused,
      checks,
      notes,
    });
    if (checks.some((c) => !c.ok)) process.exitCode = 1;
  } finally {
    await counters?.close();
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
