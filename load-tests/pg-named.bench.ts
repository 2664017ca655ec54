// Unnamed vs named statements, statement by statement: the payment path's hot
// statements against a scratch PostgreSQL with the real schemas, each run N
// times on one connection as node-postgres sends it unnamed (parse and plan
// every time) and named (parsed once, plan cached), interleaved A/B/A/B.
// Reports the backend's CPU per statement (from /proc, as the payments bench
// reads it), the client's, and pg_stat_statements' planning share.
//   make tools && node dist/load-tests/pg-named.bench.js      (PG_NAMED_ITERATIONS=2000)
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startPostgres } from '../runtime/engines/postgres.js';
import { migrateSchemas } from '../runtime/pg/migrate.js';
import { createLogger } from '../runtime/log.js';

const ITERATIONS = Number(process.env.PG_NAMED_ITERATIONS ?? 2_000);
/** Statements per transaction: the commit is the same either way, so few of them. */
const PER_TRANSACTION = 50;
const CLOCK_TICKS_PER_SECOND = 100;

function backendCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

interface Case {
  readonly label: string;
  readonly text: string;
  readonly values: (i: number, round: number) => unknown[];
}

const services = (name: string) => fileURLToPath(new URL(`../services/${name}/migrations/`, import.meta.url));

async function main(): Promise<void> {
  const engine = await startPostgres({ durable: false, settings: ['shared_preload_libraries=pg_stat_statements',
    'pg_stat_statements.track_planning=on'] });
  try {
    await engine.createDatabase('bench');
    const url = engine.urlFor('bench');
    await migrateSchemas(url, [{ schema: 'payments', dir: services('payments') }, { schema: 'billing', dir: services('billing') }],
      createLogger({ level: 'warn', component: 'bench' }));
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid as number;
    // Rows the statements find: subscribers, payments, debits.
    const rows = ITERATIONS;
    await client.query(`INSERT INTO payments.subscribers (msisdn, language)
                        SELECT (2250700000000 + g)::text, 'en' FROM generate_series(1, $1) g`, [rows]);
    await client.query(
      `INSERT INTO payments.payments (payment_id, channel, operator_id, short_code, payer_msisdn, payee_kind, payee_id, currency,
       amount_minor, fee_minor, operator_share_minor, payee_minor, reference, language, state, request_id, description)
       SELECT 'p' || g, 'sms', 'op', '', (2250700000000 + g)::text, 'subscriber', (2250700000000 + g % 100 + 1)::text, 'XOF',
              1000, 0, 0, 1000, '', 'en', 'challenged', 'r' || g, ''
       FROM generate_series(1, $1) g`, [rows]);
    await client.query(
      `INSERT INTO billing.debits (debit_id, payment_id, operator_id, msisdn, currency, amount_minor, payer_account_id, adapter, state)
       SELECT 'd' || g, 'p' || g, 'op', (2250700000000 + g)::text, 'XOF', 1000, 'sub:' || g, 'sim', 'reserved'
       FROM generate_series(1, $1) g`, [rows]);
    await client.query('VACUUM ANALYZE');
    const msisdn = (i: number) => String(2250700000000 + (i % rows) + 1);
    const cases: Case[] = [
      { label: 'payments lockSubscriber',
        text: `SELECT s.*, EXISTS (SELECT 1 FROM payments.mandates m WHERE m.payer_msisdn = s.msisdn AND m.state = 'pending'
                 AND m.expires_at > now()) AS mandate_pending
       FROM payments.subscribers s WHERE s.msisdn = $1 FOR NO KEY UPDATE OF s`, values: (i) => [msisdn(i)] },
      { label: 'payments spentSoFar',
        text: `SELECT COALESCE(SUM(amount_minor) FILTER (WHERE state <> 'failed' AND created_at >= date_trunc('day', now())), 0)::text
               AS today,
            COALESCE(SUM(amount_minor) FILTER (WHERE state <> 'failed'), 0)::text AS month,
            count(*) FILTER (WHERE created_at >= now() - interval '1 minute')::int AS minute
     FROM payments.payments WHERE payer_msisdn = $1 AND created_at >= date_trunc('month', now()) AND (channel <> 'api' OR consented)
       AND agent_id IS NULL`, values: (i) => [msisdn(i)] },
      { label: 'payments lockPayment',
        text: `SELECT p.*, (payer.pin_hash IS NOT NULL AND NOT payer.pin_locked) IS TRUE AS payer_pin_ready,
               payee.language AS payee_language
       FROM payments.payments p
       LEFT JOIN payments.subscribers payer ON payer.msisdn = p.payer_msisdn
       LEFT JOIN payments.subscribers payee ON payee.msisdn = p.payee_id AND p.payee_kind <> 'merchant'
      WHERE p.payment_id = $1 FOR UPDATE OF p`, values: (i) => [`p${(i % rows) + 1}`] },
      { label: 'payments setState',
        text: `UPDATE payments.payments SET state = $2, challenge_attempts = $3, failure_reason = COALESCE($4, failure_reason),
            consented = consented OR $5, funding = COALESCE($6, funding),
            challenge_method = COALESCE($7::text, challenge_method),
            challenge_code_hash = CASE WHEN $7::text IN ('pin', 'code') THEN $8::text ELSE challenge_code_hash END,
            expires_at = CASE WHEN $7::text IS NULL THEN expires_at ELSE now() + ($9::bigint * interval '1 millisecond') END,
            authorization_expires_at = CASE WHEN $10::bigint IS NULL THEN authorization_expires_at
              ELSE now() + ($10::bigint * interval '1 millisecond') END,
            updated_at = now()
      WHERE payment_id = $1`, values: (i) => [`p${(i % rows) + 1}`, 'challenged', 0, null, true, null, 'code', 'hash', 60_000, null] },
      { label: 'payments insertPayment',
        text: `INSERT INTO payments.payments (payment_id, channel, operator_id, short_code, payer_msisdn, payee_kind, payee_id, currency,
               amount_minor, fee_minor, operator_share_minor, payee_minor, reference, language, state, request_id, description,
               confirm_ttl_ms, capture_mode, authorized_minor, mandate_id, consented, payee_operator_id, funding, agent_id,
               payee_wallet_max_minor)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'reserving', $15, $16, $17, $18, $19, $20,
               $20::text IS NOT NULL, $21, $22, $23, $24)`,
        values: (i, round) => [`n${round}-${i}`, 'sms', 'op', '', msisdn(i), 'subscriber', msisdn(i + 1), 'XOF', '1000', '0', '0', '1000',
          '', 'en', `q${round}-${i}`, '', null, 'automatic', null, null, null, null, null, null] },
      { label: 'processed_events insert', text: 'INSERT INTO "payments".processed_events (consumer, event_id) VALUES ($1, $2) ' +
        'ON CONFLICT DO NOTHING', values: (i, round) => ['c', `e${round}-${i}`] },
      { label: 'outbox insert 3 rows',
        text: `INSERT INTO "payments".outbox (event_id, subject, type_name, payload, created_at) VALUES ($1, $2, $3, $4, clock_timestamp()),
               ($5, $6, $7, $8, clock_timestamp()), ($9, $10, $11, $12, clock_timestamp())
           ON CONFLICT (event_id) DO NOTHING RETURNING id, event_id`,
        values: (i, round) =>
          [0, 1, 2].flatMap((k) => [`o${round}-${i}-${k}`, 'dialpay.payment.x', 'dialpay.v1.X', Buffer.alloc(120, k)]) },
      { label: 'billing lockDebit', text: 'SELECT * FROM billing.debits WHERE debit_id = $1 FOR UPDATE',
        values: (i) => [`d${(i % rows) + 1}`] },
      { label: 'billing debit update (unnest)',
        text: `UPDATE billing.debits d SET state = u.state, detail = COALESCE(u.detail, d.detail),
               carrier_ref = COALESCE(u.carrier_ref, d.carrier_ref),
           captured_minor = COALESCE(u.captured_minor, d.captured_minor), payee = COALESCE(u.payee, d.payee), updated_at = now()
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[])
              AS u(debit_id, state, detail, carrier_ref, captured_minor, payee)
         WHERE d.debit_id = u.debit_id`, values: (i) => [[`d${(i % rows) + 1}`], ['reserved'], [null], [null], [null], [null]] },
    ];
    const results: string[] = [];
    let round = 0;
    for (const c of cases) {
      const totals = { unnamed: { pg: 0, node: 0 }, named: { pg: 0, node: 0 } };
      for (const mode of ['unnamed', 'named', 'unnamed', 'named'] as const) {
        round++;
        const name = mode === 'named' ? `bench${round}` : undefined;
        const pgBefore = backendCpuMs(pid);
        const nodeBefore = process.cpuUsage();
        for (let i = 0; i < ITERATIONS; i++) {
          if (i % PER_TRANSACTION === 0) await client.query('BEGIN');
          await client.query({ name, text: c.text, values: c.values(i, round) });
          if (i % PER_TRANSACTION === PER_TRANSACTION - 1) await client.query('COMMIT');
        }
        await client.query('COMMIT').catch(() => undefined);
        const node = process.cpuUsage(nodeBefore);
        totals[mode].pg += backendCpuMs(pid) - pgBefore;
        totals[mode].node += (node.user + node.system) / 1000;
      }
      const per = (ms: number) => ((ms * 1000) / (2 * ITERATIONS)).toFixed(0);
      results.push(`${c.label.padEnd(32)} postgres µs/stmt unnamed ${per(totals.unnamed.pg).padStart(4)} named ` +
        `${per(totals.named.pg).padStart(4)}   node µs/stmt unnamed ${per(totals.unnamed.node).padStart(4)} named ` +
        `${per(totals.named.node).padStart(4)}`);
    }
    const planning = await client.query<{ query: string; calls: string; plans: string; plan_ms: number; exec_ms: number }>(
      `SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 60) AS query, calls::text, plans::text,
              round(total_plan_time::numeric, 1)::float AS plan_ms, round(total_exec_time::numeric, 1)::float AS exec_ms
       FROM pg_stat_statements WHERE calls >= $1 ORDER BY total_plan_time + total_exec_time DESC LIMIT 12`, [ITERATIONS]);
    await client.end();
    console.log(`iterations per run: ${ITERATIONS}, runs: unnamed, named, unnamed, named`);
    for (const line of results) console.log(line);
    console.log('\npg_stat_statements (both modes together; plans < calls is the named runs reusing their plan):');
    for (const r of planning.rows) console.log(`${r.query.padEnd(62)} calls ${r.calls} plans ${r.plans} plan ${r.plan_ms} ms exec ` +
      `${r.exec_ms} ms`);
  } finally {
    await engine.stop();
  }
}

await main();
