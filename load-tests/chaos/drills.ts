// make chaos: fault drills on the running stack. Every component runs as its
// own process beside nats-server and PostgreSQL, billing charges through the
// operator's (simulated) CAMARA charging API, and phones pay each other by SMS
// at a steady rate. One drill at a time, with recovery in between: the SMPP
// link dropped, the operator throttling, each component SIGKILLed and started
// again, agents cashing in and subscribers withdrawing on the wallet operator
// (harness/cash.ts) while billing and payments are SIGKILLed, NATS and
// PostgreSQL restarted and crashed. After each drill the money and
// messaging invariants are checked (no MO lost, nothing captured twice or left
// reserved, every receipt sent once (twice only where SMPP's at-least-once
// allows), every deposit and withdrawal booked and told once, floats and
// wallets never negative, the ledger sums to zero) and the time the
// completed-payments rate took to come back is measured. Exit code 1 when any
// check fails. CHAOS_SHAPE=cluster runs the production shape instead (3 NATS
// nodes with R3 streams, a PostgreSQL standby, two processes of each component)
// and its drills (cluster-faults.ts), into the record chaos-cluster.json.
// CHAOS_MODE=quick: fewer components and drills, shorter windows;
// CHAOS_DRILLS=name,name runs only those drills; CHAOS_PER_SECOND, CHAOS_CASH_PER_SECOND,
// CHAOS_OUTAGE_MS and CHAOS_THROTTLE_MS change the load and the faults.
import { startCluster, type Cluster } from '../harness/cluster.js';
import { ProcessWatch } from '../harness/processes.js';
import { Phones, Timeline, payAtRate } from '../harness/phones.js';
import { CashFlows, failureSummary, seedAgents } from '../harness/cash.js';
import { writeRecord, type Check, type Figure } from '../harness/report.js';
import type { ComponentName } from '../../runtime/config/index.js';
import { allDrills, waitBound, type Drill } from './faults.js';
import { PRODUCTION_SHAPE, clusterDrills, type ClusterFaultTiming } from './cluster-faults.js';
import { CHAOS_COMPONENTS, chaosClusterOptions, drillTable, runDrill, type ChaosSettings, type DrillResult } from './run.js';

const quick = process.env.CHAOS_MODE === 'quick';
const mode = quick ? 'quick' : 'full';
const shape = process.env.CHAOS_SHAPE === 'cluster' ? 'cluster' : 'single';
const COMPONENTS: readonly ComponentName[] = quick ? ['billing', 'payments', 'gateway'] : CHAOS_COMPONENTS;
/** The production shape's replicas: two of each; settlement and reconciliation too, to prove only one runs at a time. */
const CLUSTER_REPLICAS = PRODUCTION_SHAPE.replicasPerComponent;
/** On one 2-core machine, 14 processes, 3 NATS nodes and 2 PostgreSQL servers take a lower rate. */
const CLUSTER_PER_SECOND = 30;
const TIMING: ClusterFaultTiming = {
  outageMs: Number(process.env.CHAOS_OUTAGE_MS ?? (quick ? 3_000 : 5_000)),
  throttleMs: Number(process.env.CHAOS_THROTTLE_MS ?? (quick ? 6_000 : 10_000)),
  throttleAboveTps: 10,
  backTimeoutMs: 60_000,
  smscOutageMs: Number(process.env.CHAOS_SMSC_OUTAGE_MS ?? (quick ? 20_000 : 300_000)),
};
const SETTINGS: ChaosSettings = {
  perSecond: Number(process.env.CHAOS_PER_SECOND ?? (quick ? 20 : shape === 'cluster' ? CLUSTER_PER_SECOND : 300)),
  phoneCount: 3_000,
  beforeSeconds: quick ? 5 : 8,
  recoveredShare: 0.7,
  recoveryWindowSeconds: 2,
  recoveryTimeoutMs: quick ? 30_000 : 45_000,
  tailMs: quick ? 2_000 : 3_000,
  settleTimeoutMs: 90_000,
  cashPerSecond: Number(process.env.CHAOS_CASH_PER_SECOND ?? (quick ? 2 : 5)),
  timing: TIMING,
};
/** A phone's SMS wait and its SMSC's MO retry schedule (about 45 s in all). */
const SMS_WAIT_MS = 45_000;
const MO_RETRY_DELAYS_MS = [1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000];
/**
 * Agents of the wallet operator and their customers, for the cash drill: enough that agents resting after a failed deposit leave idle ones.
 */
const CASH_AGENTS = 100;
const CASH_SUBSCRIBERS = 2_000;
/** Each agent's float before the load, XOF (no minor unit): some 2,000 deposits of at most 10,000 (withdrawals add to it). */
const CASH_FLOAT_MINOR = 20_000_000n;
/** Load before the first drill, not measured: the first payments of each phone and a cold JIT are slower. */
const WARMUP_SECONDS = quick ? 5 : 10;
/** The whole run stops here, whatever it is doing, and fails. At 300/s each drill's settle and checks take longer. */
const RUN_DEADLINE_MS = (quick ? (shape === 'cluster' ? 12 : 6) : (shape === 'cluster' ? 45 : 25)) * 60_000;

function selectedDrills(): Drill[] {
  const all = shape === 'cluster' ? clusterDrills(COMPONENTS) : allDrills(COMPONENTS);
  const wanted = process.env.CHAOS_DRILLS?.split(',').map((d) => d.trim()).filter(Boolean);
  if (wanted && wanted.length > 0) {
    const unknown = wanted.filter((w) => !all.some((d) => d.name === w));
    if (unknown.length > 0) throw new Error(`unknown drill(s) ${unknown.join(', ')}; known: ${all.map((d) => d.name).join(', ')}`);
    return all.filter((d) => wanted.includes(d.name));
  }
  // Quick: one of each kind on the payment path; the idle components' kills and the engines' crashes only in a full run.
  return quick ? all.filter((d) => !/^(kill-(ussd|webhooks|settlement|reconciliation)(-replica)?|nats-kill|postgres-crash)$/.test(d.name)) : all;
}

async function main(): Promise<void> {
  const drills = selectedDrills();
  const runStartedMs = performance.now();
  const cluster: Cluster = await startCluster(shape === 'cluster'
    ? { ...chaosClusterOptions(COMPONENTS), natsNodes: PRODUCTION_SHAPE.natsNodes, postgresStandby: true,
      replicas: Object.fromEntries(COMPONENTS.map((c) => [c, CLUSTER_REPLICAS])) }
    : chaosClusterOptions(COMPONENTS));
  let finished = false;
  const deadline = setTimeout(() => {
    if (finished) return;
    process.stderr.write(`chaos: run deadline of ${RUN_DEADLINE_MS / 60_000} min passed; stopping the stack\n`);
    void cluster.stop().finally(() => process.exit(1));
  }, RUN_DEADLINE_MS);
  const onSignal = () => void cluster.stop().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await waitBound(cluster, 30_000);
    cluster.smsc.submittedKeepMax = 1_000;
    if (cluster.walletSmsc) cluster.walletSmsc.submittedKeepMax = 1_000;
    const phones = new Phones(cluster, { smsWaitMs: SMS_WAIT_MS, moRetryDelaysMs: MO_RETRY_DELAYS_MS });
    // Agents registered, PINned and funded before any load, as an operator would have them.
    const cash = cluster.walletSmsc && drills.some((d) => d.cashLoad)
      ? new CashFlows(cluster.walletSmsc, await seedAgents(cluster.config, { count: CASH_AGENTS, floatMinor: CASH_FLOAT_MINOR }),
        CASH_SUBSCRIBERS, { smsWaitMs: SMS_WAIT_MS, moRetryDelaysMs: MO_RETRY_DELAYS_MS,
          apiUrl: `http://127.0.0.1:${cluster.config.merchantApi.port}` })
      : undefined;
    const timeline = new Timeline();
    await payAtRate(phones, { perSecond: SETTINGS.perSecond, seconds: WARMUP_SECONDS, phoneCount: SETTINGS.phoneCount });
    const watch = new ProcessWatch();
    for (const [name, pids] of cluster.processGroups()) watch.add(name, pids);
    watch.start();
    const results: DrillResult[] = [];
    for (const drill of drills) {
      process.stdout.write(`chaos: ${drill.name}: ${drill.fault}\n`);
      const result = await runDrill(cluster, phones, timeline, drill, SETTINGS, cash);
      results.push(result);
      const failed = result.checks.filter((c) => !c.ok);
      process.stdout.write(`chaos: ${drill.name}: fault ${(result.faultMs / 1_000).toFixed(1)} s, ` +
        `${result.recoverMs === null ? 'NOT recovered' : `recovered ${(result.recoverMs / 1_000).toFixed(1)} s after`}, ` +
        `${result.completed}/${result.started} completed, ` +
        `${result.cash ? `cash: deposits ${result.cash.deposits.completed}/` +
          `${result.cash.deposits.completed + result.cash.deposits.failed}, withdrawals ${result.cash.withdrawals.completed}/` +
          `${result.cash.withdrawals.completed + result.cash.withdrawals.failed}, operator deposits ` +
          `${result.cash.operatorDeposits.completed}/${result.cash.operatorDeposits.completed + result.cash.operatorDeposits.failed} ` +
          `completed, ` : ''}${result.mosRetried} MOs retried, ${failed.length === 0 ? 'invariants ok' : `FAILED: ` +
          `${failed.map((c) => `${c.name} (${c.detail})`).join('; ')}`}\n`);
    }
    const processes = watch.stop();

    const figures: Figure[] = [
      { name: `steady completed payments (${SETTINGS.perSecond}/s offered), median over drills`,
        value: median(results.map((r) => r.beforePerSecond)), unit: '/s' },
      ...results.map((r): Figure => ({
        name: `${r.drill}: time to recover to ${Math.round(SETTINGS.recoveredShare * 100)}% after the fault`,
        value: r.recoverMs === null ? SETTINGS.recoveryTimeoutMs / 1_000 : Math.round(r.recoverMs / 100) / 10,
        unit: 's',
        target: { op: '<=', value: SETTINGS.recoveryTimeoutMs / 1_000 },
      })),
    ];
    // One line per drill that passed, each failed check of one that did not; then every invariant as it stands at the end.
    const checks: Check[] = results.flatMap((r): Check[] => {
      const failed = r.checks.filter((c) => !c.ok);
      return failed.length === 0
        ? [{ name: `${r.drill}: throughput recovered, ${r.invariants.length} invariants hold`, ok: true,
          detail: r.checks.find((c) => !r.invariants.includes(c))?.detail ?? '' }]
        : failed.map((c) => ({ name: `${r.drill}: ${c.name}`, ok: false, detail: c.detail }));
    });
    const last = results.at(-1);
    if (last) checks.push(...last.invariants.map((c) => ({ ...c, name: `after all drills: ${c.name}` })));
    const t = SETTINGS.timing;
    writeRecord({
      bench: shape === 'cluster' ? 'chaos-cluster' : 'chaos',
      title: shape === 'cluster'
        ? 'Fault drills on the production shape under steady payment load' : 'Fault drills under steady payment load',
      mode,
      setup: `${shape === 'cluster' ? `${CLUSTER_REPLICAS} processes each of ${COMPONENTS.join(', ')}, a 3-node NATS cluster (every ` +
        `stream R3) and a durable PostgreSQL primary with a synchronous streaming standby (postgres.url names both, ` +
        `target_session_attrs=read-write)` : `${COMPONENTS.join(', ')} as separate processes, nats-server and durable PostgreSQL`} on ` +
        `this machine; billing over the operator's CAMARA Carrier Billing API through the http adapter (simulated here, as is the SMSC). ` +
        `${SETTINGS.perSecond} SMS payments/s offered, open loop (SEND, challenge, YES, capture, payer and payee receipts) from ` +
        `${SETTINGS.phoneCount} phones whose SMSC re-sends a refused MO (${MO_RETRY_DELAYS_MS.join(', ')} ms). One drill at a time: ` +
        `${SETTINGS.beforeSeconds} s steady, the fault (outage ${t.outageMs / 1_000} s${shape === 'cluster' ? `, SMSC away ` +
        `${TIMING.smscOutageMs / 1_000} s` : ''}, throttling above ${t.throttleAboveTps} submits/s for ${t.throttleMs / 1_000} s), load ` +
        `until completions per second are back to ${Math.round(SETTINGS.recoveredShare * 100)}% of the rate before (over ` +
        `${SETTINGS.recoveryWindowSeconds} s, judged in whole seconds) plus ${SETTINGS.tailMs / 1_000} s, then every payment is let end ` +
        `and the invariants are checked. Consumers' ack wait 10 s, challenges expire after 60 s, SMPP re-bind backoff 1-60 s with full ` +
        `jitter (the shipped default); other settings from dialpay.example.yaml. Whole run ` +
        `${Math.round((performance.now() - runStartedMs) / 1_000)} s.`,
      figures,
      processes,
      errors: results.reduce((n, r) => n + r.flowErrors + r.mosRefused, 0),
      checks,
      notes: [
        '### Per drill',
        '',
        ...drillTable(results, SETTINGS.recoveredShare),
        '',
        ...results.filter((r) => r.cash).map((r) => `${r.drill}: beside the payments, ${SETTINGS.cashPerSecond} cash flows/s on ` +
          `orange-sn (the wallet model, its own SMSC) between ${CASH_AGENTS} agents and ${CASH_SUBSCRIBERS} subscribers: an agent ` +
          `deposits 5,000-10,000 XOF (DEPOT, confirmed with its PIN), the subscriber then withdraws 1,000-2,000 XOF at a random agent ` +
          `(RETRAIT, OUI <code>, the cash-out fee on top), while the operator credits the subscriber's wallet with 500-1,500 XOF through ` +
          `its API (POST /v1/operator/deposits, the same Idempotency-Key again after a 5xx or no answer); deposits ` +
          `${r.cash?.deposits.completed} completed / ${r.cash?.deposits.failed} failed, withdrawals ${r.cash?.withdrawals.completed} ` +
          `completed / ${r.cash?.withdrawals.failed} failed, operator deposits ${r.cash?.operatorDeposits.completed} completed / ` +
          `${r.cash?.operatorDeposits.failed} failed (${r.cash ? failureSummary(r.cash) : ''}), ${r.cash?.notStarted} not started. Flows ` +
          `failed: no receipt within the phone's wait; each is booked in full or not at all (checked).`),
        '',
        'Time to recover: from the moment the broken part was back (restarted and ready, rebound, throttling cleared) until completed ' +
          'payments per second were back to the share of the rate before; 1 s resolution. Flows failed: payments that did not end in the ' +
          'payer\'s receipt within the phone\'s wait. MOs refused with a temporary error are expected while a fault lasts; the phone\'s ' +
          'SMSC sends them again.',
        '',
        '| drill | fault | completed payments per second, from the reference window on; [fault] |',
        '|---|---|---|',
        ...results.map((r) => `| ${r.drill} | ${r.fault} | ${r.perSecond} |`),
      ],
    });
    if (results.length !== drills.length || checks.some((c) => !c.ok)) process.exitCode = 1;
  } finally {
    finished = true;
    clearTimeout(deadline);
    await cluster.stop();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : (sorted[Math.floor(sorted.length / 2)] as number);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
