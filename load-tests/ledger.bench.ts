// make bench (ledger): transfers per second into one hot merchant account,
// against the same transfers spread over 100 merchants (the baseline). A
// ledger that serialised on the merchant's row would show it in the ratio.
// Captures are measured (reserves are made beforehand): each books holds ->
// merchant, fee revenue and operator share, on a durable PostgreSQL. At the
// end the ledger is read back: postings sum to zero, every transfer balances,
// no balance drifted, and the merchants hold exactly what was captured.
import { fileURLToPath } from 'node:url';
import { createPool, migrateSchemas } from '../runtime/pg/index.js';
import { startPostgres } from '../runtime/engines/index.js';
import { createLogger } from '../runtime/log.js';
import { Ledger } from '../services/billing/ledger/store.js';
import { AccountIds, captureTransfer, depositTransfer, reserveTransfer, type Transfer } from '../services/billing/ledger/rules.js';
import { LatencyRecorder } from './harness/latency.js';
import { benchMode, writeRecord, type Check, type Figure } from './harness/report.js';
import { median, plural, rate, treeOf, WindowedWatch } from './stats.js';

const mode = benchMode();
const RUNS = Number(process.env.BENCH_RUNS ?? (mode === 'full' ? 3 : 1));
const TRANSFERS = Number(process.env.BENCH_TRANSFERS ?? (mode === 'full' ? 10_000 : 6_000));
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 400);
const PAYERS = 64;
/** Batching needs few connections: the callers wait on batches, not on connections. */
const POOL_SIZE_MAX = 16;
const log = createLogger({ level: 'warn' });

const PAYEE_MINOR = 8_850n;

interface RunResult {
  readonly perSecond: number;
  /** Transfers not applied (an outcome other than 'applied'). */
  readonly errors: number;
}

/** Applies the transfers, CONCURRENCY at a time; each call's latency goes into `latency`. */
async function run(ledger: Ledger, transfers: readonly Transfer[], latency: LatencyRecorder): Promise<RunResult> {
  let next = 0;
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < transfers.length) {
      const t = transfers[next++] as Transfer;
      const started = performance.now();
      const result = await ledger.apply(t);
      latency.recordMs(performance.now() - started);
      if (result.outcome !== 'applied') {
        errors++;
        if (errors <= 3) log.warn({ transfer: t.id, outcome: result.outcome }, 'transfer not applied');
      }
    }
  }));
  return { perSecond: rate(transfers.length, performance.now() - t0), errors };
}

async function main(): Promise<void> {
  const pg = await startPostgres({ durable: true });
  await pg.createDatabase('bench');
  const migrations = fileURLToPath(new URL('../services/billing/migrations/', import.meta.url)).replace('/dist/', '/');
  await migrateSchemas(pg.urlFor('bench'), [{ schema: 'billing', dir: migrations }], log);
  const pool = createPool({ url: pg.urlFor('bench'), poolSizeMax: Math.min(CONCURRENCY, POOL_SIZE_MAX), connectTimeoutMs: 5_000,
    statementTimeoutMs: 60_000, applicationName: 'bench' }, log);
  const ledger = new Ledger(pool);
  const hot: RunResult[] = [];
  const spread: RunResult[] = [];
  let setupErrors = 0;
  const hotLatency = new LatencyRecorder();
  const spreadLatency = new LatencyRecorder();
  const watch = new WindowedWatch();
  const postgres = () => treeOf(pg.pid());
  const checks: Check[] = [];
  try {
    for (const [id, kind] of [[AccountIds.holds('KES'), 'holds'], [AccountIds.fees('KES'), 'fee_revenue'],
      [AccountIds.operatorShare('op'), 'operator_share'], [AccountIds.carrier('op'), 'carrier_clearing']] as const) {
      await ledger.ensureAccount(id, kind, 'KES');
    }
    for (let m = 0; m < 100; m++) await ledger.ensureAccount(AccountIds.merchant(`M${m}`, 'KES'), 'merchant_payable', 'KES');
    await ledger.ensureAccount(AccountIds.merchant('HOT', 'KES'), 'merchant_payable', 'KES');
    for (let p = 0; p < PAYERS; p++) {
      await ledger.ensureAccount(AccountIds.subscriber(`2547000${p}`), 'subscriber', 'KES');
      await ledger.apply(depositTransfer(`fund-${p}`, 'op', AccountIds.subscriber(`2547000${p}`), 'KES', 10n ** 15n));
    }
    let serial = 0;
    const prepare = async (merchantOf: (i: number) => string): Promise<Transfer[]> => {
      const reserves = Array.from({ length: TRANSFERS }, (_, i) => {
        const payer = AccountIds.subscriber(`2547000${i % PAYERS}`);
        return { t: reserveTransfer({ id: `r${++serial}`, paymentId: `p${serial}`, currency: 'KES', payerAccountId: payer,
          amountMinor: 10_000n }), payer };
      });
      setupErrors += (await run(ledger, reserves.map((r) => r.t), new LatencyRecorder())).errors;
      return reserves.map(({ t, payer }, i) => captureTransfer({
        id: `c-${t.id}`, reserve: { id: t.id, paymentId: t.paymentId, currency: 'KES', amountMinor: 10_000n, payerAccountId: payer },
        payeeAccountId: merchantOf(i), payeeMinor: PAYEE_MINOR, feeMinor: 150n, operatorShareMinor: 1_000n, operatorId: 'op',
      }));
    };
    for (let r = 0; r < RUNS; r++) {
      const spreadCaptures = await prepare((i) => AccountIds.merchant(`M${i % 100}`, 'KES'));
      spread.push(await watch.measure([['bench process: ledger client (baseline runs)', () => [process.pid]],
        ['postgres (baseline runs)', postgres]], () => run(ledger, spreadCaptures, spreadLatency)));
      const hotCaptures = await prepare(() => AccountIds.merchant('HOT', 'KES'));
      hot.push(await watch.measure([['bench process: ledger client', () => [process.pid]], ['postgres', postgres]],
        () => run(ledger, hotCaptures, hotLatency)));
    }
    const check = await ledger.check();
    checks.push({
      name: 'ledger sums to zero',
      ok: check.postingsSumMinor === 0n && check.unbalancedTransfers === 0 && check.driftedBalances === 0 && check.negativeBalances === 0,
      detail: `postings sum ${check.postingsSumMinor}, ${check.unbalancedTransfers} unbalanced transfers, ${check.driftedBalances} ` +
        `drifted balances, ${check.negativeBalances} negative balances`,
    });
    const sum = async (ids: readonly string[]) => (await Promise.all(ids.map((id) => ledger.balance(id)))).reduce((a, b) => a + b, 0n);
    const hotMinor = await ledger.balance(AccountIds.merchant('HOT', 'KES'));
    const spreadMinor = await sum(Array.from({ length: 100 }, (_, m) => AccountIds.merchant(`M${m}`, 'KES')));
    const heldMinor = await ledger.balance(AccountIds.holds('KES'));
    const applied = (runs: RunResult[]) => BigInt(runs.reduce((n, r) => n + TRANSFERS - r.errors, 0));
    checks.push({
      name: 'merchants hold exactly what was captured, nothing left on hold',
      ok: hotMinor === applied(hot) * PAYEE_MINOR && spreadMinor === applied(spread) * PAYEE_MINOR && heldMinor === 0n,
      detail: `hot merchant ${hotMinor.toLocaleString('en')} minor for ${applied(hot).toLocaleString('en')} captures, 100 merchants ` +
        `${spreadMinor.toLocaleString('en')} minor for ${applied(spread).toLocaleString('en')} captures ` +
        `(${PAYEE_MINOR.toLocaleString('en')} each), ${heldMinor.toLocaleString('en')} left on hold`,
    });
  } finally {
    await pool.end();
    await pg.stop();
  }
  const perSecond = (runs: RunResult[]) => median(runs.map((r) => r.perSecond));
  const figures: Figure[] = [
    { name: 'captures into one hot merchant account', value: perSecond(hot), unit: 'transfers/s', target: { op: '>=', value: 10_000 },
      baseline: { name: 'spread over 100 merchants', value: perSecond(spread) }, latencyMs: hotLatency.summary(),
      runs: hot.map((r) => r.perSecond) },
    { name: 'captures spread over 100 merchants (baseline)', value: perSecond(spread), unit: 'transfers/s',
      latencyMs: spreadLatency.summary(), runs: spread.map((r) => r.perSecond) },
  ];
  writeRecord({
    bench: 'ledger',
    title: 'Ledger transfers with one hot merchant account',
    mode,
    setup: `${TRANSFERS.toLocaleString('en')} captures a run (reserves made beforehand, not measured), ${CONCURRENCY} in flight through ` +
      `the batching Ledger on ${Math.min(CONCURRENCY, POOL_SIZE_MAX)} connections, durable PostgreSQL (fsync on) on this machine. Each ` +
      `capture books holds -> merchant, fee revenue and operator share. Median of ${plural(RUNS, 'run')}, baseline (spread) and hot ` +
      `alternating. Latency is per ledger.apply call, pooled over the runs.`,
    figures,
    processes: watch.usage(),
    errors: setupErrors + [...hot, ...spread].reduce((n, r) => n + r.errors, 0),
    checks,
  });
  if (checks.some((c) => !c.ok)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
