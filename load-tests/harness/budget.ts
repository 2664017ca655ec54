// Issue 15's budget per completed payment, and the arithmetic that turns two
// readings of the system's counters into work per payment. Pure: the readings
// come from harness/counters.ts. Commits and durable messages are counts, so
// they are checks (a regression fails the bench on a noisy machine); CPU and
// throughput are timings, so they are figures with targets only.
import type { Check } from './report.js';

export const BUDGET = {
  commitsPerPaymentMax: 1.5,
  jetstreamMessagesPerPaymentMax: 10,
  cpuMsPerPaymentMax: 2,
  completedPerSecondMin: 1_000,
  yesToReceiptP99MsMax: 250,
} as const;

/** One reading of the system's cumulative counters. */
export interface CounterReading {
  readonly atMs: number;
  /** pg_stat_database.xact_commit summed over the cluster's databases (template* left out). */
  readonly commits: number;
  readonly rollbacks: number;
  /** pg_stat_statements calls since its last reset, transaction control left out. */
  readonly statements: number;
  /** state.last_seq of every stream: a stream's durable messages so far (deletes do not lower it). */
  readonly streamLastSeqs: ReadonlyMap<string, number>;
  /** CPU seconds per process group so far (ProcessWatch.mark()). */
  readonly cpuSeconds: ReadonlyMap<string, number>;
}

/** What happened between two readings. */
export interface CounterDelta {
  readonly elapsedMs: number;
  readonly commits: number;
  readonly rollbacks: number;
  readonly statements: number;
  readonly messagesByStream: ReadonlyMap<string, number>;
  readonly cpuSecondsByGroup: ReadonlyMap<string, number>;
}

function mapDelta(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): Map<string, number> {
  // A stream or group first seen after `before` counts from zero.
  return new Map([...after].map(([key, value]) => [key, value - (before.get(key) ?? 0)]));
}

export function between(before: CounterReading, after: CounterReading): CounterDelta {
  return {
    elapsedMs: after.atMs - before.atMs,
    commits: after.commits - before.commits,
    rollbacks: after.rollbacks - before.rollbacks,
    statements: after.statements - before.statements,
    messagesByStream: mapDelta(before.streamLastSeqs, after.streamLastSeqs),
    cpuSecondsByGroup: mapDelta(before.cpuSeconds, after.cpuSeconds),
  };
}

/**
 * A phase's own work: its delta less what the idle system does (outbox polls, their commits
 * and CPU) over `idleMs`, the settle time after the phase that the delta also spans. Never
 * below zero.
 */
export function lessIdle(delta: CounterDelta, idle: CounterDelta, idleMs: number): CounterDelta {
  const share = idle.elapsedMs > 0 ? idleMs / idle.elapsedMs : 0;
  const less = (value: number, idleValue: number) => Math.max(0, value - idleValue * share);
  const lessMap = (values: ReadonlyMap<string, number>, idleValues: ReadonlyMap<string, number>) =>
    new Map([...values].map(([key, value]) => [key, less(value, idleValues.get(key) ?? 0)]));
  return {
    elapsedMs: delta.elapsedMs,
    commits: less(delta.commits, idle.commits),
    rollbacks: less(delta.rollbacks, idle.rollbacks),
    statements: less(delta.statements, idle.statements),
    messagesByStream: lessMap(delta.messagesByStream, idle.messagesByStream),
    cpuSecondsByGroup: lessMap(delta.cpuSecondsByGroup, idle.cpuSecondsByGroup),
  };
}

export interface PerPayment {
  readonly completed: number;
  readonly commits: number;
  readonly rollbacks: number;
  readonly statements: number;
  readonly jetstreamMessages: number;
  /** Streams with any message, most first. */
  readonly messagesByStream: readonly (readonly [string, number])[];
  /** Every group but the load generator's. */
  readonly systemCpuMs: number;
  readonly loadGeneratorCpuMs: number;
}

const round2 = (value: number) => Math.round(value * 100) / 100;

/** Work per completed payment; with none completed every figure is Infinity (over any budget). */
export function perPayment(work: CounterDelta, completed: number, loadGeneratorGroup: string): PerPayment {
  const per = (value: number) => (completed > 0 ? round2(value / completed) : Number.POSITIVE_INFINITY);
  let systemCpuSeconds = 0;
  for (const [group, seconds] of work.cpuSecondsByGroup) if (group !== loadGeneratorGroup) systemCpuSeconds += seconds;
  let messages = 0;
  for (const count of work.messagesByStream.values()) messages += count;
  return {
    completed,
    commits: per(work.commits),
    rollbacks: per(work.rollbacks),
    statements: per(work.statements),
    jetstreamMessages: per(messages),
    messagesByStream: [...work.messagesByStream].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1])
      .map(([stream, n]) => [stream, per(n)] as const),
    systemCpuMs: per(systemCpuSeconds * 1_000),
    loadGeneratorCpuMs: per((work.cpuSecondsByGroup.get(loadGeneratorGroup) ?? 0) * 1_000),
  };
}

/** The counted part of the budget as checks: commits and durable JetStream messages per payment. */
export function budgetChecks(phase: string, p: PerPayment): Check[] {
  const none = p.completed === 0 ? ' (no payment completed)' : '';
  return [
    {
      name: `PostgreSQL commits per payment at ${phase} within the budget`,
      ok: p.commits <= BUDGET.commitsPerPaymentMax,
      detail: `${p.commits} commits per payment over ${p.completed} payments${none}; budget ${BUDGET.commitsPerPaymentMax}`,
    },
    {
      name: `durable JetStream messages per payment at ${phase} within the budget`,
      ok: p.jetstreamMessages <= BUDGET.jetstreamMessagesPerPaymentMax,
      detail: `${p.jetstreamMessages} messages per payment over ${p.completed} payments${none}; budget ` +
        `${BUDGET.jetstreamMessagesPerPaymentMax}`,
    },
  ];
}

/** "SMS_INBOUND 2, PAYMENTS 6.5, ...": where a phase's durable messages went. */
export function describeStreams(p: PerPayment): string {
  return p.messagesByStream.length === 0 ? 'none' : p.messagesByStream.map(([stream, n]) => `${stream} ${n}`).join(', ');
}
