// One fault drill under steady payment load: open-loop payments at a fixed
// rate, the fault once the rate is steady, then watching the per-second
// completions until they are back to a share of the rate before the fault,
// then the load stops, every payment is let end, and the money and messaging
// invariants are checked. The stack and its config live here too, so the
// runner (drills.ts) and the integration test drill the same thing.
import type { ComponentName } from '../../runtime/config/index.js';
import { componentLog, type Cluster, type ClusterOptions } from '../harness/cluster.js';
import { checkInvariants } from '../harness/invariants.js';
import { LatencyRecorder } from '../harness/latency.js';
import { payAtRate, type Phase, type Phones, type Timeline } from '../harness/phones.js';
import { OPERATOR_API_KEY, cashAtRate, failureSummary, newCashTally, type CashFlows, type CashTally } from '../harness/cash.js';
import type { Check } from '../harness/report.js';
import type { Drill, FaultTiming } from './faults.js';
import { measureRecovery } from './recovery.js';

export interface ChaosSettings {
  /** Payments started per second, open loop. */
  readonly perSecond: number;
  /** Distinct paying phones: enough that a stalled flow does not leave the load without an idle phone. */
  readonly phoneCount: number;
  /** Steady seconds before the fault, the reference rate. */
  readonly beforeSeconds: number;
  /** Completions per second back to this share of the reference rate counts as recovered. */
  readonly recoveredShare: number;
  readonly recoveryWindowSeconds: number;
  /** Past this after the fault's end without recovery, the drill fails its throughput check. */
  readonly recoveryTimeoutMs: number;
  /** Load kept on after the recovery, so a relapse shows in the timeline. */
  readonly tailMs: number;
  /** How long the invariants wait for payments to end and reservations to be released. */
  readonly settleTimeoutMs: number;
  /** Cash flows (a deposit, then a withdrawal) started per second in a drill with cashLoad. */
  readonly cashPerSecond?: number;
  readonly timing: FaultTiming;
}

export interface DrillResult {
  readonly drill: string;
  readonly fault: string;
  /** From the fault's injection until the broken part was back. */
  readonly faultMs: number;
  readonly beforePerSecond: number;
  readonly dipPerSecond: number;
  /** Seconds from the fault's start to the recovery below the recovered share. */
  readonly degradedSeconds: number;
  readonly recoverMs: number | null;
  readonly started: number;
  readonly completed: number;
  /** Flows that did not end in a receipt for the payer. */
  readonly flowErrors: number;
  /** MOs the gateway refused with a temporary error (or left unanswered), sent again by the phone. */
  readonly mosRetried: number;
  /** MOs given up on after the retries. */
  readonly mosRefused: number;
  /**
   * Completed payments per second from the reference window until every flow ended; the fault's seconds in brackets, ‖ where no new
   * payments started.
   */
  readonly perSecond: string;
  /** The fault could not be undone (a component not back, the link not rebound): why. */
  readonly notBack: string | null;
  /** Every check of the drill: a crash, the fault not undone, the recovery, then the invariants. */
  readonly checks: readonly Check[];
  /** The invariants alone, as they stand after this drill (they cover every payment so far). */
  readonly invariants: readonly Check[];
  /** The agents' deposits and subscribers' withdrawals of a drill with cashLoad, else null. */
  readonly cash: CashTally | null;
}

/** Every component, each its own process: billing first (it migrates alone), the gateway last (it takes traffic). */
export const CHAOS_COMPONENTS: readonly ComponentName[] =
  ['billing', 'payments', 'ussd', 'webhooks', 'settlement', 'reconciliation', 'gateway'];
const BIND_COUNT = 2;

/**
 * The stack the drills break: the example config, billing over the http adapter on the CAMARA simulator, production consumer settings but a
 * shorter ack wait.
 */
export function chaosClusterOptions(components: readonly ComponentName[]): ClusterOptions {
  return {
    components,
    // http: the carrier's own record shows a capture made twice, not only our ledger.
    carrier: 'http',
    // orange-sn, the wallet model, on an SMSC of its own: its agents and their customers (harness/cash.ts).
    walletOperatorSmsc: true,
    logLevel: 'warn',
    configure: (raw) => {
      // Re-bind backoff as shipped (the cluster's default is faster, for benchmarks): the link drills measure what operations would see.
      Object.assign(raw.operators[0].smpp, { bindCount: BIND_COUNT, windowSize: 200, throughputPerSecondMax: 1_000,
        reconnectDelayMsMin: 1_000, reconnectDelayMsMax: 60_000 });
      raw.limits.paymentsPerMinuteMax = 1_000;
      raw.limits.pinRequiredAboveMinor = 10_000_000;
      // A WITHDRAW pays the example's cash-out fee on top, as at safaricom-ke.
      raw.operators[1].cashOutFeeScheduleId = 'cash-out';
      // Its own systems credit its subscribers' wallets through the operator API (harness/cash.ts).
      raw.operators[1].apiKeys = [OPERATOR_API_KEY.stored];
      // Abandoned challenges (a phone that gave up) expire within a drill's settle time.
      raw.limits.challengeTtlMs = 60_000;
      // Messages a killed process held are redelivered after the ack wait: 10 s instead of 30 s keeps each drill short.
      raw.consumers = { ...raw.consumers, ackWaitMs: 10_000 };
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number | null): boolean {
  if (pid === null) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Components that died on their own during the drill (not the one it killed: that one was
 * started again). Each is started again, as a supervisor would, so the next drill has a whole
 * stack; the crash itself fails the drill.
 */
async function restartCrashed(cluster: Cluster): Promise<Check[]> {
  const checks: Check[] = [];
  for (const component of [...cluster.components.keys()].flatMap((name) => cluster.replicas(name))) {
    if (alive(component.pid())) continue;
    const name = component.replica === 0 ? component.name : `${component.name} replica ${component.replica}`;
    const tail = componentLog(cluster, component.name, 600, component.replica).replace(/\s+/g, ' ');
    checks.push({ name: `${name} kept running`, ok: false, detail: `${name} exited during the drill; last log: ${tail}` });
    await component.stop();
    await component.start().catch((err: unknown) => checks.push({ name: `${name} starts again`, ok: false,
      detail: (err as Error).message }));
  }
  return checks;
}

const POLL_MS = 250;
/** Seconds of load before the reference window, so the pipeline is full when it starts. */
const WARMUP_SECONDS = 2;
/** Upper bound of one drill's load, whatever happens. */
const LOAD_SECONDS_MAX = 600;

/** An agent whose deposit failed waits out its challenge (the chaos config's challengeTtlMs, 60 s) and a little. */
const AGENT_REST_MS = 65_000;

/**
 * One drill. `cash`: the agents and their customers (harness/cash.ts); a drill with cashLoad runs
 * them beside the payments, and every drill's invariants cover what they did so far.
 */
export async function runDrill(cluster: Cluster, phones: Phones, timeline: Timeline, drill: Drill, s: ChaosSettings,
  cash?: CashFlows): Promise<DrillResult> {
  if (drill.cashLoad && !cash) throw new Error(`${drill.name} needs the cash flows (a cluster with walletOperatorSmsc and seeded agents)`);
  const retriedBefore = phones.mosRetried + (cash?.phones.mosRetried ?? 0);
  const refusedBefore = phones.mosRefused + (cash?.phones.mosRefused ?? 0);
  const phase: Phase = { completed: 0, errors: 0, latency: new LatencyRecorder(), timeline };
  const stopLoad = new AbortController();
  const loadStartMs = performance.now();
  const load = payAtRate(phones,
    { perSecond: s.perSecond, seconds: LOAD_SECONDS_MAX, phoneCount: s.phoneCount, signal: stopLoad.signal, phase });
  const tally = drill.cashLoad ? newCashTally() : null;
  const apiRetriedBefore = cash?.apiRetried ?? 0;
  const cashRate = { perSecond: s.cashPerSecond ?? 1, secondsMax: LOAD_SECONDS_MAX, signal: stopLoad.signal, agentRestMs: AGENT_REST_MS };
  const cashLoad = tally && cash ? cashAtRate(cash, { ...cashRate, tally }) : Promise.resolve();
  try {
    // Start the fault on a second boundary past the warm-up, so the reference window is whole seconds of steady load.
    const faultAtMs = timeline.startMs + (timeline.secondOf(loadStartMs) + 1 + WARMUP_SECONDS + s.beforeSeconds) * 1_000 + 10;
    await sleep(Math.max(0, faultAtMs - performance.now()));

    const faultStartMs = performance.now();
    let notBack: string | null = null;
    await drill.inject(cluster, s.timing).catch((err: unknown) => {
      notBack = (err as Error).message;
    });
    const faultEndMs = performance.now();

    let recovery = measureRecovery(timeline, { faultStartMs, faultEndMs, beforeSeconds: s.beforeSeconds, offeredPerSecond: s.perSecond,
      recoveredShare: s.recoveredShare, windowSeconds: s.recoveryWindowSeconds, nowMs: performance.now() });
    while (recovery.recoverMs === null && performance.now() < faultEndMs + s.recoveryTimeoutMs) {
      await sleep(POLL_MS);
      recovery = measureRecovery(timeline, { faultStartMs, faultEndMs, beforeSeconds: s.beforeSeconds, offeredPerSecond: s.perSecond,
        recoveredShare: s.recoveredShare, windowSeconds: s.recoveryWindowSeconds, nowMs: performance.now() });
    }
    await sleep(s.tailMs);
    stopLoad.abort();
    const loadStopSecond = timeline.secondOf(performance.now());
    await load;
    await cashLoad;
    const faultSeconds = [timeline.secondOf(faultStartMs), timeline.secondOf(faultEndMs)] as const;
    const perSecond: string[] = [];
    for (let sec = faultSeconds[0] - s.beforeSeconds; sec < timeline.secondOf(performance.now()); sec++) {
      const n = String(timeline.completed[sec] ?? 0);
      perSecond.push(`${sec === faultSeconds[0] ? '[' : ''}${n}${sec === faultSeconds[1] ? ']' : ''}` +
        `${sec === loadStopSecond ? ' \u2016' : ''}`);
    }

    const checks: Check[] = await restartCrashed(cluster);
    if (notBack !== null) checks.push({ name: 'fault undone: the broken part is back', ok: false, detail: notBack });
    if (tally) {
      // Not a rate: a handful of flows a second. Each kind must have completed again after the fault.
      const after = (atMs: number) => atMs > faultEndMs;
      checks.push({
        name: 'deposits and withdrawals complete again after the fault',
        ok: after(tally.lastDepositMs) && after(tally.lastWithdrawalMs),
        detail: `deposits ${tally.deposits.completed} completed / ${tally.deposits.failed} failed, withdrawals ` +
          `${tally.withdrawals.completed} completed / ${tally.withdrawals.failed} failed, operator deposits ` +
          `${tally.operatorDeposits.completed} completed / ${tally.operatorDeposits.failed} failed after ` +
          `${(cash?.apiRetried ?? 0) - apiRetriedBefore} API calls asked again (failures: ${failureSummary(tally)}), ${tally.notStarted} ` +
          `not started (no idle agent or subscriber); last deposit ${((tally.lastDepositMs - faultEndMs) / 1_000).toFixed(1)} s and last ` +
          `withdrawal ${((tally.lastWithdrawalMs - faultEndMs) / 1_000).toFixed(1)} s after the fault's end`,
      });
    }
    checks.push({
      name: `throughput back to ${Math.round(s.recoveredShare * 100)}% within ${s.recoveryTimeoutMs / 1_000} s of the fault's end`,
      ok: recovery.recoverMs !== null,
      detail: recovery.recoverMs === null
        ? `not recovered: ${recovery.beforePerSecond.toFixed(1)}/s before (measured against ` +
          `${recovery.referencePerSecond.toFixed(1)}/s), slowest second ${recovery.dipPerSecond}/s; per second: ${perSecond.join(' ')}`
        : `${recovery.beforePerSecond.toFixed(1)}/s before, slowest second ${recovery.dipPerSecond}/s, back after ` +
          `${(recovery.recoverMs / 1_000).toFixed(1)} s`,
    });
    const invariants = await checkInvariants({
      databaseUrl: cluster.databaseUrl,
      natsUrl: cluster.config.nats.url,
      mosAccepted: phones.mosAccepted + (cash?.mosAccepted ?? 0),
      receipts: phones.receipts,
      payeeReceipts: true,
      chargingApi: cluster.chargingApi,
      acceptedBeforeDrop: cluster.smsc.acceptedBeforeDrop,
      settleTimeoutMs: s.settleTimeoutMs,
      operators: cluster.config.operators,
      ...(cash ? { cashBook: cash.book } : {}),
    });
    checks.push(...invariants);
    return {
      drill: drill.name,
      fault: drill.fault,
      faultMs: Math.round(faultEndMs - faultStartMs),
      beforePerSecond: Math.round(recovery.beforePerSecond * 10) / 10,
      dipPerSecond: recovery.dipPerSecond,
      degradedSeconds: recovery.degradedSeconds,
      recoverMs: recovery.recoverMs === null ? null : Math.round(recovery.recoverMs),
      // Every flow ends completed or failed once the load is over.
      started: phase.completed + phase.errors,
      completed: phase.completed,
      flowErrors: phase.errors,
      perSecond: perSecond.join(' '),
      mosRetried: phones.mosRetried + (cash?.phones.mosRetried ?? 0) - retriedBefore,
      mosRefused: phones.mosRefused + (cash?.phones.mosRefused ?? 0) - refusedBefore,
      notBack,
      checks,
      invariants,
      cash: tally,
    };
  } finally {
    stopLoad.abort();
    await load;
    await cashLoad;
  }
}

const seconds = (ms: number | null) => (ms === null ? 'not recovered' : `${(ms / 1_000).toFixed(1)} s`);

/** The per-drill table of the report, in markdown. */
export function drillTable(results: readonly DrillResult[], recoveredShare: number): string[] {
  const share = `${Math.round(recoveredShare * 100)}%`;
  const lines = [
    `| drill | fault lasted | rate before | slowest second | seconds below ${share} | time to recover to ${share} | payments completed / ` +
      `started | flows failed | MOs refused (temporary, retried) | MOs given up | invariants |`,
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const failed = r.checks.filter((c) => !c.ok).map((c) => c.name);
    lines.push(`| ${r.drill} | ${seconds(r.faultMs)} | ${r.beforePerSecond}/s | ${r.dipPerSecond}/s | ${r.degradedSeconds} | ` +
      `${seconds(r.recoverMs)} | ${r.completed} / ${r.started} | ${r.flowErrors} | ${r.mosRetried} | ${r.mosRefused} | ` +
      `${failed.length === 0 ? 'all ok' : `FAILED: ${failed.join('; ')}`} |`);
  }
  return lines;
}
