// make bench (payments): completed SMS payments per second, end to end, and
// the latency from the subscriber's YES to their receipt. Phones on the
// simulated SMSC send PAY, wait for the challenge, answer YES <code>, and wait
// for the receipt: PAY, challenge, YES, debit, and the payer's receipt (the
// merchant's side is booked in the ledger). Everything runs on this machine:
// gateway, payments and billing in one process, the SMSC simulator in it too,
// nats-server and a durable PostgreSQL beside it.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { validateConfig } from '../runtime/config/index.js';
import { startHost } from '../runtime/host.js';
import { freePort, startNatsServer, startPostgres } from '../runtime/engines/index.js';
import { createLogger } from '../runtime/log.js';
import { gateway } from '../gateway/index.js';
import { payments } from '../services/payments/index.js';
import { billingComponent, SimulatedCarrier } from '../services/billing/index.js';
import { SmscSimulator } from './operator-sim/smsc.js';
import { machineLine } from './stats.js';

const PAYMENTS = Number(process.env.BENCH_PAYMENTS ?? 3_000);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 200);
const root = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/dist\/?$/, '/');

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function main(): Promise<void> {
  mkdtempSync(join(tmpdir(), 'dialpay-pay-bench-'));
  const [nats, pg] = await Promise.all([startNatsServer(), startPostgres({
    durable: process.env.BENCH_FSYNC !== 'off',
    settings: process.env.BENCH_DEBUG ? ['shared_preload_libraries=pg_stat_statements', 'pg_stat_statements.track=all'] : [],
  })]);
  await pg.createDatabase('bench');
  const sim = new SmscSimulator({ systemId: 'dialpay', password: 'secret1', receiptDelayMs: 50 });
  sim.submittedKeepMax = 1_000;
  const raw = parse(readFileSync(join(root, 'dialpay.example.yaml'), 'utf8')) as any;
  raw.nats.url = nats.url;
  raw.postgres = { ...raw.postgres, url: pg.urlFor('bench'), poolSizeMax: Number(process.env.BENCH_POOL ?? 20) };
  raw.log = { level: 'error' };
  raw.http.opsPorts = Object.fromEntries(await Promise.all(['gateway', 'payments', 'ussd', 'billing', 'settlement', 'reconciliation'].map(async (c) => [c, await freePort()])));
  Object.assign(raw.operators[0].smpp, { port: await sim.start(), bindCount: 2, windowSize: 500, throughputPerSecondMax: 20_000 });
  raw.operators[1].smpp.port = await freePort();
  raw.limits.paymentsPerMinuteMax = 1_000;
  raw.outbox = { pollIntervalMs: 20, batchSizeMax: 500 };
  raw.consumers = { ...raw.consumers, inFlightMax: Number(process.env.BENCH_CONSUMER_IN_FLIGHT ?? 256) };
  const host = await startHost(validateConfig(raw), [billingComponent(new SimulatedCarrier({ openingBalanceMinor: 10n ** 12n })), payments, gateway], { log: createLogger({ level: 'error' }) });
  while (sim.boundSessions < 2) await new Promise((r) => setTimeout(r, 50));

  const waiting = new Map<string, (text: string) => void>();
  sim.onMessage((m) => {
    const resolve = waiting.get(m.destination);
    if (resolve) {
      waiting.delete(m.destination);
      resolve(m.text);
    }
  });
  const nextSms = (phone: string) => new Promise<string>((resolve) => waiting.set(phone, resolve));
  const latenciesMs: number[] = [];
  let failed = 0;
  let next = 0;
  const started = performance.now();
  // BENCH_DEBUG: where does work queue up? Consumer backlogs and outbox sizes, once a second.
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const pgMod = (await import('pg')).default;
  const probe = process.env.BENCH_DEBUG ? { nc: await connect({ servers: nats.url }), db: new pgMod.Client({ connectionString: pg.urlFor('bench') }) } : null;
  if (probe) {
    await probe.db.connect();
    await probe.db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await probe.db.query('SELECT pg_stat_statements_reset()');
  }
  const sampler = probe ? setInterval(async () => {
    const jsm = await jetstreamManager(probe.nc);
    const parts: string[] = [];
    for (const [stream, names] of [['SMS_INBOUND', ['payments-sms-inbound']], ['SMS_OUTBOUND', ['gateway-sms-outbound']], ['DEBITS', ['billing-debit-reserve', 'billing-debit-capture', 'payments-reserve-result', 'payments-capture-result']]] as const) {
      for (const name of names) {
        const ci = await jsm.consumers.info(stream, name);
        parts.push(`${name}=${ci.num_pending}/${ci.num_ack_pending}`);
      }
    }
    for (const schema of ['payments', 'billing']) parts.push(`${schema}.outbox=${(await probe.db.query(`SELECT count(*)::int n FROM ${schema}.outbox`)).rows[0].n}`);
    process.stdout.write(`${parts.join(' ')}\n`);
  }, 1_000) : null;
  await Promise.all(Array.from({ length: IN_FLIGHT }, async (_, worker) => {
    const phone = `2547${String(10_000_000 + worker)}`;
    while (next < PAYMENTS) {
      next++;
      let reply = nextSms(phone);
      await sim.sendFromPhone(phone, '384', 'PAY SHOP42 150 bench');
      const challenge = await reply;
      const code = /YES (\d{4})/.exec(challenge)?.[1];
      if (!code) {
        failed++;
        continue;
      }
      reply = nextSms(phone);
      const t0 = performance.now();
      await sim.sendFromPhone(phone, '384', `YES ${code}`);
      const receipt = await reply;
      if (receipt.startsWith('Paid')) latenciesMs.push(performance.now() - t0);
      else failed++;
    }
  }));
  const elapsedMs = performance.now() - started;
  if (sampler) clearInterval(sampler);
  if (probe) {
    // Where Postgres spends its time: the statements with the most total execution time.
    const { rows } = await probe.db.query<{ calls: string; ms: number; query: string }>(
      `SELECT calls, round(total_exec_time)::int AS ms, left(regexp_replace(query, '\\s+', ' ', 'g'), 110) AS query
       FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 12`,
    );
    for (const r of rows) process.stdout.write(`pg ${String(r.ms).padStart(6)} ms ${String(r.calls).padStart(7)} calls  ${r.query}\n`);
    await probe.nc.close();
    await probe.db.end();
  }
  if (process.env.BENCH_DEBUG) {
    for (const [name, port] of Object.entries(host.opsPorts)) {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      for (const line of text.split('\n')) if (/handler_duration_seconds_(sum|count)|outbox_events_published_total/.test(line)) process.stdout.write(`${name}: ${line}\n`);
    }
  }
  await host.stop();
  await sim.stop();
  await Promise.allSettled([nats.stop(), pg.stop()]);
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  process.stdout.write([
    `machine: ${machineLine()}`,
    `${PAYMENTS} payments, ${IN_FLIGHT} phones paying at once; gateway + payments + billing + SMSC simulator in one process, nats-server and durable PostgreSQL beside it`,
    `completed SMS payments (PAY, challenge, YES, debit, receipt)   ${Math.round((latenciesMs.length / elapsedMs) * 1000).toLocaleString('en')}/s   (${latenciesMs.length} completed, ${failed} failed, ${(elapsedMs / 1000).toFixed(1)} s)`,
    `confirmation (YES sent) to receipt: p50 ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms`,
  ].join('\n') + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
