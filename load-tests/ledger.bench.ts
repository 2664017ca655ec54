// make bench (ledger): transfers per second into one hot merchant account,
// against the same transfers spread over 100 merchants (the baseline). A
// ledger that serialised on the merchant's row would show it in the ratio.
// Captures are measured (reserves are made beforehand): each books holds ->
// merchant, fee revenue and operator share, on a durable PostgreSQL.
import { fileURLToPath } from 'node:url';
import { createPool, migrateSchemas } from '../runtime/pg/index.js';
import { startPostgres } from '../runtime/engines/index.js';
import { createLogger } from '../runtime/log.js';
import { Ledger } from '../services/billing/ledger/store.js';
import { AccountIds, captureTransfer, depositTransfer, reserveTransfer, type Transfer } from '../services/billing/ledger/rules.js';
import { machineLine, median, rate } from './stats.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const TRANSFERS = Number(process.env.BENCH_TRANSFERS ?? 10_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 400);
const PAYERS = 64;
/** Batching needs few connections: the callers wait on batches, not on connections. */
const POOL_SIZE_MAX = 16;
const log = createLogger({ level: 'warn' });

async function run(ledger: Ledger, transfers: readonly Transfer[]): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < transfers.length) {
      const t = transfers[next++] as Transfer;
      const result = await ledger.apply(t);
      if (result.outcome !== 'applied') throw new Error(`${t.id}: ${result.outcome}`);
    }
  }));
  return rate(transfers.length, performance.now() - t0);
}

async function main(): Promise<void> {
  const pg = await startPostgres({ durable: true });
  await pg.createDatabase('bench');
  await migrateSchemas(pg.urlFor('bench'), [{ schema: 'billing', dir: fileURLToPath(new URL('../services/billing/migrations/', import.meta.url)).replace('/dist/', '/') }], log);
  const pool = createPool({ url: pg.urlFor('bench'), poolSizeMax: Math.min(CONCURRENCY, POOL_SIZE_MAX), connectTimeoutMs: 5_000, statementTimeoutMs: 60_000, applicationName: 'bench' }, log);
  const ledger = new Ledger(pool);
  const hot: number[] = [];
  const spread: number[] = [];
  try {
    for (const [id, kind] of [[AccountIds.holds('KES'), 'holds'], [AccountIds.fees('KES'), 'fee_revenue'], [AccountIds.operatorShare('op'), 'operator_share'], [AccountIds.carrier('op'), 'carrier_clearing']] as const) {
      await ledger.ensureAccount(id, kind, 'KES');
    }
    for (let m = 0; m < 100; m++) await ledger.ensureAccount(AccountIds.merchant(`M${m}`), 'merchant_payable', 'KES');
    await ledger.ensureAccount(AccountIds.merchant('HOT'), 'merchant_payable', 'KES');
    for (let p = 0; p < PAYERS; p++) {
      await ledger.ensureAccount(AccountIds.subscriber(`2547000${p}`), 'subscriber', 'KES');
      await ledger.apply(depositTransfer(`fund-${p}`, 'op', AccountIds.subscriber(`2547000${p}`), 'KES', 10n ** 15n));
    }
    let serial = 0;
    const prepare = async (merchantOf: (i: number) => string): Promise<Transfer[]> => {
      const reserves = Array.from({ length: TRANSFERS }, (_, i) => {
        const payer = AccountIds.subscriber(`2547000${i % PAYERS}`);
        return { t: reserveTransfer({ id: `r${++serial}`, paymentId: `p${serial}`, currency: 'KES', payerAccountId: payer, amountMinor: 10_000n }), payer };
      });
      await run(ledger, reserves.map((r) => r.t));
      return reserves.map(({ t, payer }, i) => captureTransfer({
        id: `c-${t.id}`, reserve: { id: t.id, paymentId: t.paymentId, currency: 'KES', amountMinor: 10_000n, payerAccountId: payer },
        payeeAccountId: merchantOf(i), payeeMinor: 8_850n, feeMinor: 150n, operatorShareMinor: 1_000n, operatorId: 'op',
      }));
    };
    for (let r = 0; r < RUNS; r++) {
      spread.push(await run(ledger, await prepare((i) => AccountIds.merchant(`M${i % 100}`))));
      hot.push(await run(ledger, await prepare(() => AccountIds.merchant('HOT'))));
    }
    const check = await ledger.check();
    if (check.postingsSumMinor !== 0n || check.unbalancedTransfers !== 0 || check.driftedBalances !== 0) throw new Error(`ledger unsound after the bench: ${JSON.stringify(check, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
  } finally {
    await pool.end();
    await pg.stop();
  }
  const h = median(hot);
  const s = median(spread);
  process.stdout.write([
    `machine: ${machineLine()}`,
    `runs: ${RUNS}, medians; ${TRANSFERS} captures per run, ${CONCURRENCY} in flight on ${Math.min(CONCURRENCY, POOL_SIZE_MAX)} connections, durable PostgreSQL (fsync on)`,
    `captures spread over 100 merchants (baseline)   ${s.toLocaleString('en')} transfers/s   runs ${spread.join(' ')}`,
    `captures into one hot merchant                 ${h.toLocaleString('en')} transfers/s   runs ${hot.join(' ')}   = ${(h / s).toFixed(3)} x baseline`,
    'ledger check after the runs: postings sum to zero, every transfer balances, no balance drift',
  ].join('\n') + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
