// The payments bench's budget arithmetic (two counter readings -> work per
// payment, less the idle system, -> the checks), the previous record's figures
// beside this run's, and the open loop's bound on payments in flight.
import { describe, expect, it } from 'vitest';
import { between, budgetChecks, describeStreams, lessIdle, perPayment, type CounterReading } from '../../load-tests/harness/budget.js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ratioToPrevious, withPrevious, writeRecord, type Figure } from '../../load-tests/harness/report.js';
import { payAtRate, type Phones } from '../../load-tests/harness/phones.js';

const LOAD = 'load generator';

function reading(
  atMs: number, commits: number, streams: Record<string, number>, cpu: Record<string, number>, statements = 0, rollbacks = 0,
): CounterReading {
  return {
    atMs, commits, rollbacks, statements, streamLastSeqs: new Map(Object.entries(streams)), cpuSeconds: new Map(Object.entries(cpu)),
  };
}

describe('between and perPayment', () => {
  it('counts each stream and process group from its first reading, and a new one from zero', () => {
    const before = reading(0, 1_000, { SMS_INBOUND: 10, PAYMENTS: 5 }, { postgres: 1, [LOAD]: 0.5 }, 3, 2);
    const after = reading(10_000, 13_000, { SMS_INBOUND: 2_010, PAYMENTS: 6_005, KV_sessions: 400 },
      { postgres: 11, payments: 4, [LOAD]: 2.5 }, 30_003, 102);
    const work = between(before, after);
    expect(work.elapsedMs).toBe(10_000);
    expect(work.messagesByStream.get('KV_sessions')).toBe(400);

    const p = perPayment(work, 1_000, LOAD);
    expect(p.commits).toBe(12);
    expect(p.rollbacks).toBe(0.1);
    expect(p.statements).toBe(30);
    expect(p.jetstreamMessages).toBe(8.4); // (2,000 + 6,000 + 400) / 1,000
    expect(p.systemCpuMs).toBe(14); // (10 s postgres + 4 s payments) / 1,000, the load generator left out
    expect(p.loadGeneratorCpuMs).toBe(2);
    expect(describeStreams(p)).toBe('PAYMENTS 6, SMS_INBOUND 2, KV_sessions 0.4');
  });

  it('gives Infinity per payment when none completed, so every budget fails', () => {
    const p = perPayment(between(reading(0, 0, {}, {}), reading(1, 5, { A: 1 }, {})), 0, LOAD);
    expect(p.commits).toBe(Number.POSITIVE_INFINITY);
    const checks = budgetChecks('saturation', p);
    expect(checks.every((c) => !c.ok)).toBe(true);
    expect(checks[0]?.detail).toContain('no payment completed');
  });
});

describe('lessIdle', () => {
  it('takes off the idle rate over the settle time only, never below zero', () => {
    const idle = between(reading(0, 0, { OUTBOX: 0 }, { payments: 0 }), reading(5_000, 500, { OUTBOX: 0 }, { payments: 0.5 }));
    const phase = between(reading(0, 0, { OUTBOX: 0 }, { payments: 0 }), reading(21_000, 12_000, { OUTBOX: 9_000 }, { payments: 0.2 }));
    const work = lessIdle(phase, idle, 11_000); // 100 commits/s and 0.1 CPU s/s idle, over 11 s
    expect(work.commits).toBe(10_900);
    expect(work.messagesByStream.get('OUTBOX')).toBe(9_000);
    expect(work.cpuSecondsByGroup.get('payments')).toBe(0);
    expect(work.elapsedMs).toBe(21_000);
  });
});

describe('budgetChecks', () => {
  const work = between(reading(0, 0, {}, {}), reading(1, 1_500, { S: 10_000 }, {}));
  it('passes at the budget', () => {
    expect(budgetChecks('saturation', perPayment(work, 1_000, LOAD)).map((c) => c.ok)).toEqual([true, true]);
  });
  it('fails just over it, each count on its own', () => {
    const over = between(reading(0, 0, {}, {}), reading(1, 1_510, { S: 10_000 }, {}));
    expect(budgetChecks('saturation', perPayment(over, 1_000, LOAD)).map((c) => c.ok)).toEqual([false, true]);
    const chatty = between(reading(0, 0, {}, {}), reading(1, 1_000, { S: 10_010 }, {}));
    expect(budgetChecks('saturation', perPayment(chatty, 1_000, LOAD)).map((c) => c.ok)).toEqual([true, false]);
  });
});

describe('withPrevious', () => {
  const now: Figure[] = [
    { name: 'completed payments at saturation', value: 240, unit: '/s' },
    { name: 'commits per payment', value: 6, unit: 'commits' },
  ];
  it('attaches the same-named figure of a record of the same mode', () => {
    const figures = withPrevious(now, { mode: 'full', finishedAt: '2026-11-21T21:46:37.018Z', figures: [{ name: 'completed payments at saturation', value: 120, unit: '/s' }] }, 'full');
    expect(figures[0]?.previous).toEqual({ value: 120, finishedAt: '2026-11-21T21:46:37.018Z' });
    expect(ratioToPrevious(figures[0] as Figure)).toBe(2);
    expect(figures[1]?.previous).toBeUndefined();
  });
  it('ignores a record of the other mode, and none', () => {
    expect(withPrevious(now, { mode: 'quick', figures: [{ name: 'commits per payment', value: 12, unit: 'commits' }] }, 'full')[1]?.previous).toBeUndefined();
    expect(withPrevious(now, null, 'full')).toEqual(now);
  });
});

describe('the previous record column', () => {
  const record = (figures: Figure[]) => ({ bench: 'b', title: 'B', mode: 'quick' as const, setup: '', figures, processes: [], errors: 0, checks: [] });
  it('shows the previous value and the ratio, and only in a record that has one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-report-'));
    const lines = writeRecord(record([{ name: 'commits per payment', value: 6, unit: 'commits', previous: { value: 12, finishedAt: '' } }]), dir);
    expect(lines).toContain('| previous record (ratio) |');
    expect(lines).toContain('| commits per payment | 6 commits |  |  |  | 12 commits (0.5×) |  |');
    const plain = writeRecord(record([{ name: 'commits per payment', value: 6, unit: 'commits' }]), dir);
    expect(plain).not.toContain('previous record');
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toContain('| commits per payment | 6 commits |  |  |  |  |');
  });
});

describe('payAtRate with inFlightMax', () => {
  it('does not start a payment beyond the bound, counts it, and ends once those in flight end', async () => {
    const release: (() => void)[] = [];
    const phones = {
      pay: (_payer: string, _payee: string, phase: { completed: number }) =>
        new Promise<void>((resolve) => release.push(() => {
          phase.completed++;
          resolve();
        })),
    } as unknown as Phones;
    const run = payAtRate(phones, { perSecond: 1_000, seconds: 0.1, phoneCount: 50, inFlightMax: 10 });
    await new Promise((r) => setTimeout(r, 300));
    expect(release.length).toBe(10);
    for (const r of release) r();
    const result = await run;
    expect(result.offered).toBe(100);
    expect(result.notStarted).toBe(90);
    expect(result.completed).toBe(10);
    expect(result.errors).toBe(0);
  });
});
