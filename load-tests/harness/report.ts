// Every benchmark writes one record: load-tests/results/<bench>.json, and the
// table of all records in load-tests/results/README.md is rebuilt from those
// files. A figure carries its target and, where one exists, the baseline
// measured in the same run and the ratio to it, and the same figure in the
// record this run replaces.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProcessUsage } from './processes.js';
import type { LatencySummaryMs } from './latency.js';

export type BenchMode = 'quick' | 'full';

/** BENCH_MODE=quick for development (small counts, one run); full, the default, for the record. */
export function benchMode(): BenchMode {
  return process.env.BENCH_MODE === 'quick' ? 'quick' : 'full';
}

export interface Target {
  readonly op: '>=' | '<=';
  readonly value: number;
}

export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly target?: Target;
  /** The same measure of the baseline, taken in the same run. */
  readonly baseline?: { readonly name: string; readonly value: number };
  /** The figure of the same name in the record this run replaces (same mode), and when that ran. */
  readonly previous?: { readonly value: number; readonly finishedAt: string };
  readonly latencyMs?: LatencySummaryMs;
  /** Every run's value, when value is their median. */
  readonly runs?: readonly number[];
}

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface BenchRecord {
  readonly bench: string;
  readonly title: string;
  readonly mode: BenchMode;
  readonly setup: string;
  readonly figures: readonly Figure[];
  readonly processes: readonly ProcessUsage[];
  readonly errors: number;
  readonly checks: readonly Check[];
  /** Where the time went: profile summaries, top SQL statements. */
  readonly notes?: readonly string[];
}

export function machineDescription(): string {
  const cpu = cpus();
  return `${cpu.length} x ${cpu[0]?.model.trim() ?? 'unknown cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}, ` +
    `${process.platform}`;
}

export function ratio(figure: Figure): number | null {
  return figure.baseline && figure.baseline.value > 0 ? Math.round((figure.value / figure.baseline.value) * 1000) / 1000 : null;
}

/** This figure over the previous record's, as ratio() does for the baseline. */
export function ratioToPrevious(figure: Figure): number | null {
  return figure.previous && figure.previous.value > 0 ? Math.round((figure.value / figure.previous.value) * 1000) / 1000 : null;
}

/**
 * The figures with the previous record's value of the same name attached. Only a record of the
 * same mode compares (a quick run's counts are not a full run's).
 */
export function withPrevious(figures: readonly Figure[],
  previous: { readonly mode: BenchMode; readonly figures: readonly Figure[]; readonly finishedAt?: string } | null,
  mode: BenchMode): Figure[] {
  if (!previous || previous.mode !== mode) return [...figures];
  const byName = new Map(previous.figures.map((f) => [f.name, f.value]));
  return figures.map((f) => {
    const value = byName.get(f.name);
    return typeof value === 'number' && Number.isFinite(value) ? { ...f, previous: { value, finishedAt: previous.finishedAt ?? '' } } : f;
  });
}

/** The record a bench wrote last in `dir`, or null. Read it before writeRecord replaces it. */
export function readRecord(bench: string, dir = resultsDir()): (BenchRecord & { finishedAt?: string }) | null {
  const path = join(dir, `${bench}.json`);
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as BenchRecord & { finishedAt?: string };
  } catch {
    return null; // a broken record is no baseline
  }
}

export function meetsTarget(figure: Figure): boolean | null {
  if (!figure.target) return null;
  return figure.target.op === '>=' ? figure.value >= figure.target.value : figure.value <= figure.target.value;
}

export function resultsDir(): string {
  if (process.env.BENCH_RESULTS_DIR) return process.env.BENCH_RESULTS_DIR;
  const root = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/dist\/?$/, '/');
  return join(root.replace(/\/dist\/load-tests\/?$/, '/'), 'load-tests', 'results');
}

/** Writes the record and rebuilds the markdown table; prints the record's lines too. */
export function writeRecord(record: BenchRecord, dir = resultsDir()): string {
  mkdirSync(dir, { recursive: true });
  const stamped = { ...record, machine: machineDescription(), finishedAt: new Date().toISOString() };
  writeFileSync(join(dir, `${record.bench}.json`), `${JSON.stringify(stamped, null, 2)}\n`);
  rebuildTable(dir);
  const lines = renderRecord(stamped);
  process.stdout.write(`${lines}\n`);
  return lines;
}

/** Rebuilds README.md from every record in the folder (after a record or the table's format changed). */
export function rebuildTable(dir = resultsDir()): void {
  const records = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as BenchRecord & { machine: string; finishedAt: string });
  writeFileSync(join(dir, 'README.md'), renderTable(records));
}

function fmt(value: number): string {
  return Number.isInteger(value) ? value.toLocaleString('en') : value.toLocaleString('en', { maximumFractionDigits: 2 });
}

function figureCells(f: Figure, withPreviousColumn: boolean): string[] {
  const r = ratio(f);
  const rp = ratioToPrevious(f);
  const met = meetsTarget(f);
  return [
    f.name,
    `${fmt(f.value)} ${f.unit}`,
    f.target ? `${f.target.op} ${fmt(f.target.value)} ${f.unit}${met === null ? '' : met ? ' (met)' : ' (**not met**)'}` : '',
    f.baseline ? `${fmt(f.baseline.value)} ${f.unit} (${f.baseline.name})` : '',
    r === null ? '' : `${r}×`,
    ...(withPreviousColumn ? [f.previous ? `${fmt(f.previous.value)} ${f.unit}${rp === null ? '' : ` (${rp}×)`}` : ''] : []),
    f.latencyMs ? `${f.latencyMs.p50} / ${f.latencyMs.p95} / ${f.latencyMs.p99}` : '',
  ];
}

function renderRecord(r: BenchRecord & { machine: string }): string {
  const lines = [`## ${r.title} (${r.bench}, ${r.mode})`, '', r.setup, '', `Machine: ${r.machine}`, ''];
  // The previous record's column only where some figure has one.
  const previousColumn = r.figures.some((f) => f.previous);
  lines.push(
    `| figure | measured | target | baseline | ratio |${previousColumn ? ' previous record (ratio) |' : ''} p50 / p95 / p99 ms |`,
    `|---|---|---|---|---|${previousColumn ? '---|' : ''}---|`,
  );
  for (const f of r.figures) lines.push(`| ${figureCells(f, previousColumn).join(' | ')} |`);
  if (r.processes.length > 0) {
    lines.push('', '| process | CPU s | CPU % of a core | peak RSS MiB |', '|---|---|---|---|');
    for (const p of r.processes) lines.push(`| ${p.name} | ${p.cpuSeconds} | ${p.cpuPercent} | ${p.peakRssMiB} |`);
  }
  lines.push('', `Errors: ${r.errors}`);
  for (const c of r.checks) lines.push(`- ${c.ok ? 'ok' : 'FAILED'}: ${c.name}: ${c.detail}`);
  if (r.notes && r.notes.length > 0) lines.push('', ...r.notes);
  return lines.join('\n');
}

function renderTable(records: readonly (BenchRecord & { machine: string; finishedAt: string })[]): string {
  const lines = [
    '# Benchmark results',
    '',
    'Written by `make bench` (BENCH_MODE=quick for a short run); each section comes from the JSON file of the same name.',
    'Ratios compare against a baseline measured in the same run on the same machine; the previous record column holds the same figure',
    'from the record the run replaced (same mode only), and this run\'s value over it. A FAILED check fails the bench (exit code 1);',
    'a target not met does not (timings vary on a shared machine; counts such as commits per payment are checks).',
    '',
  ];
  for (const r of records) lines.push(`${renderRecord(r)}`, '', `Finished ${r.finishedAt}.`, '');
  return `${lines.join('\n')}\n`;
}
