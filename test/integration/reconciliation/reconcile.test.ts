// Reconciliation end to end: a day of payments through the simulator (one
// refunded), the day's settlement window closed, then an operator
// charging-records file made from them with one
// discrepancy of every category and a bad row, `dialpay reconcile` run on it,
// and exactly those found: in the report, the summary, the event and the metric.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedCarrier } from '../../../services/billing/index.js';
import { newApiKey } from '../../../runtime/api-keys.js';
import { Events, type NatsHandle } from '../../../runtime/nats/index.js';
import { startMerchantApiStack, type PaymentsStack } from '../../support/payments-stack.js';
import { quietLogger, waitFor } from '../../support/stack.js';
import { readEvents } from '../../support/streams.js';
import { runTs } from '../../support/child.js';
import { SettlementService } from '../../../services/settlement/index.js';
import { reconciliation } from '../../../services/reconciliation/index.js';
import { startHost } from '../../../runtime/host.js';
import { validateConfig } from '../../../cli/config.js';
import { freePort } from '../../../runtime/engines/index.js';
import { day, noonOf } from '../../support/days.js';

let p: PaymentsStack;
let nats: NatsHandle;
let api: string;
const key = newApiKey();
const carrier = new SimulatedCarrier({ openingBalanceMinor: 1_000_000n });

beforeAll(async () => {
  ({ p, api, nats } = await startMerchantApiStack(carrier, [key.stored], 'reconcile-test'));
});
afterAll(async () => {
  await nats?.close();
  await p?.cleanup();
});

const pay = (phone: string, amount: string) => p.payBySms(phone, 'SHOP42', amount);

describe('dialpay reconcile', () => {
  it('finds exactly the seeded discrepancies of every category, and reports the bad row by its line', async () => {
    const names = ['A', 'B', 'C', 'D', 'E', 'F'] as const;
    const ids: Record<string, string> = {};
    for (const [i, n] of names.entries()) ids[n] = await pay(`25478800000${i}`, String(100 + i * 10));
    const refund = await fetch(`${api}/v1/payments/${ids.F}/refunds`, {
      method: 'POST', headers: { authorization: `Bearer ${key.key}`, 'idempotency-key': 'rc-1', 'content-type': 'application/json' }, body: JSON.stringify({ amountMinor: 5_000 }),
    });
    expect(refund.status).toBe(201);
    await waitFor('refunded', async () => (await p.pool.query(`SELECT 1 FROM billing.refunds WHERE debit_id = $1 AND state = 'refunded'`, [ids.F])).rowCount === 1);

    // The day is over: its payments move into a window that has ended and is closable (UTC, cut-off 00:00), which closes first.
    await p.pool.query(`UPDATE billing.transfers SET created_at = $1 WHERE kind IN ('capture', 'refund')`, [noonOf(-2)]);
    const settlement = new SettlementService({ pool: p.pool, nc: nats.nc, config: p.stack.config, log: quietLogger() });
    const closed = await settlement.close('safaricom-ke', day(-2));
    expect(closed.batch.merchants.map((l) => [l.merchantId, l.payments, l.refunds])).toEqual([['SHOP42', 6, 1]]);

    const { rows } = await p.pool.query<{ debit_id: string; msisdn: string; captured_minor: string; at: Date }>(
      `SELECT d.debit_id, d.msisdn, d.captured_minor::text, t.created_at AS at FROM billing.debits d JOIN billing.transfers t ON t.id = 'capture:' || d.debit_id WHERE d.debit_id = ANY($1)`, [Object.values(ids)],
    );
    const byId = new Map(rows.map((r) => [r.debit_id, r]));
    // F's operator speaks CAMARA: its file names the charge by the paymentId billing kept as carrier_ref.
    await p.pool.query(`UPDATE billing.debits SET carrier_ref = 'pay-F' WHERE debit_id = $1`, [ids.F]);
    const row = (n: string, over: Partial<{ tx: string; correlator: string; amount: string; status: string; at: number }> = {}) => {
      const d = byId.get(ids[n] as string);
      if (!d) throw new Error(`no debit for ${n}`);
      return [over.tx ?? `TX-${n}`, over.correlator ?? d.debit_id, `0${d.msisdn.slice(3)}`, over.amount ?? d.captured_minor, 'KES', over.status ?? 'CHARGED', new Date(over.at ?? d.at.getTime()).toISOString()].join(',');
    };
    const lines = [
      'carrier_tx_id,correlator,msisdn,amount_minor,currency,status,charged_at',
      row('A'),                                                        // 2: matched on the correlator
      row('B', { correlator: '', at: (byId.get(ids.B as string)?.at.getTime() ?? 0) + 30_000 }), // 3: matched on msisdn + amount + time
      row('C', { amount: '1' }),                                       // 4: amount mismatch
      row('D', { status: 'FAILED' }),                                  // 5: status mismatch
      row('F', { tx: 'pay-F', correlator: '', status: 'REFUNDED', at: (byId.get(ids.F as string)?.at.getTime() ?? 0) + 3 * 3_600_000 }), // 6: matched (refunded on both sides) by the CAMARA paymentId alone, hours off
      `TX-X,not-ours,0788999999,500,KES,CHARGED,${new Date(byId.get(ids.C as string)?.at.getTime() ?? 0).toISOString()}`, // 7: missing in ledger
      row('A'),                                                        // 8: duplicate (same carrier id)
      'TX-BAD,x,0788000001,ten,KES,CHARGED,2026-11-20T10:00:00Z',      // 9: bad row
    ];                                                                 // E: missing at the operator
    const dir = mkdtempSync(join(tmpdir(), 'dialpay-reconcile-'));
    const file = join(dir, 'safaricom-ke-charges.csv');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const config = join(dir, 'dialpay.yaml');
    writeFileSync(config, stringify({ ...p.stack.rawConfig, log: { level: 'error' } }));

    const child = runTs('cli/dialpay.ts', ['reconcile', '--operator', 'safaricom-ke', file, '--out', join(dir, 'report'), '--config', config]);
    expect(await child.exited()).toBe(3); // a person must look
    const summary = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    expect(summary.counts).toEqual({
      matched: 3, amount_mismatch: 1, status_mismatch: 1, missing_at_operator: 1, missing_in_ledger: 1, duplicate: 1,
    });
    expect([summary.badRows, summary.needsAction]).toEqual([1, true]);
    const report = readFileSync(join(dir, 'report.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    expect(report.map((r) => [r[0], r[1], r[2]]).sort()).toEqual([
      ['amount_mismatch', '4', 'TX-C'], ['bad_row', '9', ''], ['duplicate', '8', 'TX-A'], ['missing_at_operator', '', ''], ['missing_in_ledger', '7', 'TX-X'], ['status_mismatch', '5', 'TX-D'],
    ]);
    expect(report.find((r) => r[0] === 'missing_at_operator')?.[3]).toBe(ids.E);

    // A file with no charges in it is not a clean day: it needs a person too.
    writeFileSync(join(dir, 'empty.csv'), 'carrier_tx_id,correlator,msisdn,amount_minor,currency,status,charged_at\n');
    const empty = runTs('cli/dialpay.ts', ['reconcile', '--operator', 'safaricom-ke', join(dir, 'empty.csv'), '--out', join(dir, 'empty-report'), '--config', config]);
    expect(await empty.exited()).toBe(3);
    expect(JSON.parse(readFileSync(join(dir, 'empty-report.json'), 'utf8'))).toMatchObject({ needsAction: true, badRows: 0 });

    const events = await readEvents(nats, 'RECONCILIATION', Events.reconciliationCompleted);
    expect(events.at(-2)).toMatchObject({ operatorId: 'safaricom-ke', matched: 3, missingAtOperator: 1, badRows: 1, needsAction: true });
    const metricsText = async () => (await (await fetch(`http://127.0.0.1:${p.host.opsPorts.reconciliation}/metrics`)).text());
    await waitFor('metric', async () => /dialpay_reconciliation_needs_action\{operator="safaricom-ke"[^}]*\} 1/.test(await metricsText()));

    // A restarted reconciliation component shows the last run at once: the alert survives the restart.
    const raw = structuredClone(p.stack.rawConfig) as { http: { opsPorts: Record<string, number> } };
    raw.http.opsPorts.reconciliation = await freePort();
    const restarted = await startHost(validateConfig(raw), [reconciliation], { log: quietLogger() });
    try {
      const text = await (await fetch(`http://127.0.0.1:${restarted.opsPorts.reconciliation}/metrics`)).text();
      // The newest run of safaricom-ke is the empty file: nothing matched, and a person must look.
      expect(text).toMatch(/dialpay_reconciliation_needs_action\{operator="safaricom-ke"[^}]*\} 1/);
      expect(text).toMatch(/dialpay_reconciliation_findings\{operator="safaricom-ke",category="matched"[^}]*\} 0/);
      expect(text).not.toMatch(/operator="orange-sn"/); // never reconciled: no series rather than a made-up 0
    } finally {
      await restarted.stop();
    }
  });
});
