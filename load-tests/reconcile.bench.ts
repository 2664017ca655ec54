// make bench (reconcile): time and peak memory to reconcile a 1,000,000-row
// operator charging-records file against a 1,000,000-payment ledger. The
// baseline, in the same run: only streaming and parsing the same file (what
// reading it costs at all). Each runs in its own node process, so its peak
// memory (maxRSS) is its own; billing (the ledger side, answered over NATS)
// runs in this process, with nats-server and PostgreSQL beside it. Every
// run must find exactly the discrepancies seeded into the file.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { COMPONENT_NAMES } from '../runtime/config/index.js';
import { validateConfig } from '../cli/config.js';
import { startHost } from '../runtime/host.js';
import { freePort, startNatsServer, startPostgres } from '../runtime/engines/index.js';
import { createLogger } from '../runtime/log.js';
import { createPool } from '../runtime/pg/index.js';
import { billingComponent, SimulatedCarrier } from '../services/billing/index.js';
import type { ReconcileSummary } from '../services/reconciliation/index.js';
import { benchMode, writeRecord, type Check, type Figure } from './harness/report.js';
import { median, pidOf, plural, treeOf, WindowedWatch } from './stats.js';

type Category = keyof ReconcileSummary['counts'];

const mode = benchMode();
const ROWS = Number(process.env.BENCH_RECONCILE_ROWS ?? (mode === 'full' ? 1_000_000 : 100_000));
const RUNS = Number(process.env.BENCH_RUNS ?? (mode === 'full' ? 3 : 1));
const root = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/dist\/?$/, '/');
const DAY_START_MS = Date.UTC(2026, 10, 20);
/** One charge every 86 ms spreads a million over the day. */
const STEP_MS = Math.floor(86_400_000 / ROWS);

/** A run that takes longer has stalled: the child is killed and the bench fails. */
const CHILD_TIMEOUT_MS = 60_000 + ROWS;

interface ChildResult {
  seconds: number;
  maxRssMiB: number;
  cpuSeconds: number;
  output: string;
}

/**
 * Runs `script` (an ES module body) in a fresh node and reports its wall time, CPU time and peak RSS (its own resourceUsage at the end).
 */
async function inChild(script: string): Promise<ChildResult> {
  const started = performance.now();
  const usage = `const u = process.resourceUsage(); process.stdout.write('\\nMAXRSS ' + u.maxRSS + ' CPUUS ' + (u.userCPUTime + ` +
    `u.systemCPUTime) + '\\n');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', `${script}\n${usage}`],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  if (code !== 0) throw new Error(`child exited ` +
    `${code ?? signal}${signal === 'SIGKILL' ? ` (killed after ${CHILD_TIMEOUT_MS} ms)` : ''}: ${out}`);
  const usageLine = /MAXRSS (\d+) CPUUS (\d+)/.exec(out);
  return { seconds: (performance.now() - started) / 1000, maxRssMiB: Number(usageLine?.[1] ?? 0) / 1024,
    cpuSeconds: Number(usageLine?.[2] ?? 0) / 1e6, output: out };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'dialpay-reconcile-bench-'));
  const [nats, pg] = await Promise.all([startNatsServer(), startPostgres({ durable: false })]);
  await pg.createDatabase('bench');
  const raw = parse(readFileSync(join(root, 'dialpay.example.yaml'), 'utf8')) as any;
  raw.nats.url = nats.url;
  raw.postgres = { ...raw.postgres, url: pg.urlFor('bench'), statementTimeoutMs: 600_000 };
  raw.log = { level: 'error' };
  raw.http.opsPorts = Object.fromEntries(await Promise.all(COMPONENT_NAMES.map(async (c) => [c, await freePort()])));
  raw.operators[0].smpp.port = await freePort();
  raw.operators[1].smpp.port = await freePort();
  const host = await startHost(validateConfig(raw), [billingComponent(new SimulatedCarrier({ openingBalanceMinor: 0n }))],
    { log: createLogger({ level: 'error' }) });

  // The ledger: a million captured payments over one day, seeded in SQL (the payment path has its own bench).
  const log = createLogger({ level: 'error' });
  const pool = createPool({ url: pg.urlFor('bench'), poolSizeMax: 2, connectTimeoutMs: 5_000, statementTimeoutMs: 600_000,
    applicationName: 'bench' }, log);
  await pool.query(
    `INSERT INTO billing.debits (debit_id, payment_id, operator_id, msisdn, currency, amount_minor, payer_account_id, adapter, state,
     captured_minor, payee)
     SELECT 'd' || lpad(i::text, 8, '0'), 'd' || lpad(i::text, 8, '0'), 'safaricom-ke', '2547' || lpad((i % 9000000)::text, 8, '0'), 'KES',
     100 + i % 5000, 'carrier:safaricom-ke', 'simulator', 'captured', 100 + i % 5000, 'SHOP42'
     FROM generate_series(1, $1) i`, [ROWS],
  );
  await pool.query(
    `INSERT INTO billing.transfers (id, kind, payment_id, currency, amount_minor, created_at)
     SELECT 'capture:d' || lpad(i::text, 8, '0'), 'capture', 'd' || lpad(i::text, 8, '0'), 'KES', 100 + i % 5000, to_timestamp(($2::bigint +
     i::bigint * $3) / 1000.0)
     FROM generate_series(1, $1) i`, [ROWS, DAY_START_MS, STEP_MS],
  );
  await pool.query('ANALYZE billing.debits; ANALYZE billing.transfers');
  await pool.end();

  // The operator's file: the same million, with one in a thousand off (amount, status, missing, extra, no correlator).
  const file = join(dir, 'charges.csv');
  const out = createWriteStream(file);
  const put = async (line: string) => { if (!out.write(line)) await once(out, 'drain'); };
  await put('carrier_tx_id,correlator,msisdn,amount_minor,currency,status,charged_at\n');
  let seeded = 0;
  const expected: Record<Category, number> = { matched: 0, amount_mismatch: 0, status_mismatch: 0, missing_at_operator: 0,
    missing_in_ledger: 0, duplicate: 0 };
  let fileRows = 0;
  for (let i = 1; i <= ROWS; i++) {
    const id = `d${String(i).padStart(8, '0')}`;
    const msisdn = `2547${String(i % 9_000_000).padStart(8, '0')}`;
    let amount = 100 + (i % 5000);
    let status = 'CHARGED';
    let correlator = id;
    const at = new Date(DAY_START_MS + i * STEP_MS).toISOString();
    if (i % 1000 === 1) {
      amount += 1; seeded++; expected.amount_mismatch++;
    } else if (i % 1000 === 2) {
      status = 'FAILED'; seeded++; expected.status_mismatch++;
    } else if (i % 1000 === 3) {
      seeded++; expected.missing_at_operator++; continue; // missing at the operator
    } else if (i % 1000 === 4) {
      correlator = ''; expected.matched++; // matched on msisdn + amount + time
    } else {
      expected.matched++;
    }
    await put(`T${i},${correlator},${msisdn},${amount},KES,${status},${at}\n`);
    fileRows++;
    if (i % 1000 === 5) { // missing in the ledger
      await put(`X${i},,254799999999,${amount},KES,CHARGED,${at}\n`); seeded++; expected.missing_in_ledger++; fileRows++;
    }
  }
  out.end();
  await once(out, 'finish');

  const config = join(dir, 'dialpay.yaml');
  writeFileSync(config, stringify(raw));
  const dist = join(root, 'dist');
  const parseOnly = `import { createReadStream } from 'node:fs';
import { loadConfigFile } from '${dist}/cli/config.js';
import { readRecords } from '${dist}/services/reconciliation/records.js';
const op = loadConfigFile('${config}').operators[0];
let ok = 0; for await (const r of readRecords(createReadStream('${file}'), op.reconciliation, op.countryCallingCode)) if (r.ok) ok++;
process.stdout.write('rows ' + ok);`;
  const fullRun = `import { loadConfigFile } from '${dist}/cli/config.js';
import { connectNats } from '${dist}/runtime/nats/index.js';
import { createLogger } from '${dist}/runtime/log.js';
import { reconcile } from '${dist}/services/reconciliation/index.js';
const config = loadConfigFile('${config}');
const nats = await connectNats({ ...config.nats, name: 'bench-reconcile' }, createLogger({ level: 'error' }));
const s = await reconcile({ operator: config.operators[0], file: '${file}', outBase: '${join(dir, 'report')}',
  nc: nats.nc, js: nats.js, publishTimeoutMs: 10000 });
await nats.close();
process.stdout.write(JSON.stringify({ counts: s.counts, badRows: s.badRows }));`;

  const parsed: ChildResult[] = [];
  const full: ChildResult[] = [];
  const watch = new WindowedWatch();
  const beside: [string, () => number[]][] = [
    ['bench process: billing (the ledger side, over NATS)', () => [process.pid]],
    ['nats-server', () => pidOf(nats.pid())],
    ['postgres', () => treeOf(pg.pid())],
  ];
  for (let run = 0; run < RUNS; run++) {
    parsed.push(await inChild(parseOnly));
    full.push(await watch.measure(beside, () => inChild(fullRun)));
  }
  await host.stop();
  await Promise.allSettled([nats.stop(), pg.stop()]);
  // The children's own readings, taken as they exit (a /proc reading would miss their last moments).
  for (const r of parsed) watch.add('parse-only process (baseline runs)', r.cpuSeconds, r.seconds, Math.round(r.maxRssMiB));
  for (const r of full) watch.add('reconcile process', r.cpuSeconds, r.seconds, Math.round(r.maxRssMiB));

  const seconds = (rs: ChildResult[]) => rs.map((r) => Math.round(r.seconds * 100) / 100);
  const rowsPerSecond = (rs: ChildResult[]) => rs.map((r) => Math.round(fileRows / r.seconds));
  const peakMiB = (rs: ChildResult[]) => rs.map((r) => Math.round(r.maxRssMiB));
  const figures: Figure[] = [
    { name: `reconcile ${ROWS.toLocaleString('en')} operator rows against ${ROWS.toLocaleString('en')} ledger charges`,
      value: median(seconds(full)), unit: 's', baseline: { name: 'stream + parse only', value: median(seconds(parsed)) },
      runs: seconds(full) },
    { name: 'reconcile rate', value: median(rowsPerSecond(full)), unit: 'rows/s',
      baseline: { name: 'stream + parse only', value: median(rowsPerSecond(parsed)) }, runs: rowsPerSecond(full) },
    { name: 'reconcile peak memory (max RSS of its process)', value: median(peakMiB(full)), unit: 'MiB',
      baseline: { name: 'stream + parse only', value: median(peakMiB(parsed)) }, runs: peakMiB(full) },
    { name: 'stream + parse the file only (baseline): time', value: median(seconds(parsed)), unit: 's', runs: seconds(parsed) },
    { name: 'stream + parse the file only (baseline): peak memory', value: median(peakMiB(parsed)), unit: 'MiB', runs: peakMiB(parsed) },
  ];
  const found = full.map((r) => JSON.parse(/\{.*\}/.exec(r.output)?.[0] ?? '{}') as { counts?: Record<Category,
    number>; badRows?: number });
  const exact = (f: (typeof found)[number]) =>
    f.badRows === 0 && (Object.keys(expected) as Category[]).every((k) => f.counts?.[k] === expected[k]);
  const parsedRows = parsed.map((r) => Number(/rows (\d+)/.exec(r.output)?.[1] ?? -1));
  const checks: Check[] = [
    {
      name: 'found exactly the seeded discrepancies',
      ok: found.length === RUNS && found.every(exact),
      detail: `seeded ${seeded}: ` +
        `${(Object.keys(expected) as Category[]).map((k) => `${k} ${expected[k].toLocaleString('en')}`).join(', ')}; found ` +
        `${found.map((f) => (exact(f) ? 'exactly those' : `${JSON.stringify(f.counts ?? null)} with ${f.badRows ?? '?'} bad ` +
          `rows`)).join(', ')} (${plural(found.length, 'run')})`,
    },
    {
      name: 'the parse-only pass read every row',
      ok: parsedRows.every((n) => n === fileRows),
      detail: `${fileRows.toLocaleString('en')} rows in the file; read ${parsedRows.map((n) => n.toLocaleString('en')).join(', ')}`,
    },
  ];
  writeRecord({
    bench: 'reconcile',
    title: 'Reconciling an operator charging-records file',
    mode,
    setup: `A ${fileRows.toLocaleString('en')}-row operator CSV (one in a thousand rows off: amount, status, missing, extra; one in a ` +
      `thousand matched without a correlator) against ${ROWS.toLocaleString('en')} captured charges in the ledger, seeded in SQL. Each ` +
      `run in a fresh node process, timed from spawn to exit; its peak memory is its own max RSS. The reconcile process reads the ledger ` +
      `side from billing (in this process) over NATS, matches, writes the report and publishes the result; the baseline only streams and ` +
      `parses the same file. Median of ${plural(RUNS, 'run')}, baseline and reconcile alternating. PostgreSQL non-durable (fsync off): ` +
      `the run only reads it.`,
    figures,
    processes: watch.usage(),
    errors: found.reduce((n, f) => n + (f.badRows ?? 0), 0),
    checks,
  });
  if (checks.some((c) => !c.ok)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
