// The reconciliation matcher: every category, the tolerance's edges, and
// duplicates on both sides.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Matcher, tally, type Finding, type LedgerCharge, type OperatorRecord } from '../../../services/reconciliation/matcher.js';

const T0 = Date.UTC(2026, 10, 20, 10, 0, 0);
const ledger = (correlator: string, over: Partial<LedgerCharge> = {}): LedgerCharge => ({ correlator, msisdn: '254711000001', amountMinor: 10_000n, currency: 'KES', status: 'captured', atMs: T0, ...over });
let line = 1;
const op = (carrierTxId: string, over: Partial<OperatorRecord> = {}): OperatorRecord => ({
  line: ++line, carrierTxId, correlator: '', msisdn: '254711000001', amountMinor: 10_000n, currency: 'KES', status: 'charged', chargedAtMs: T0, ...over,
});

function run(charges: LedgerCharge[], records: OperatorRecord[], toleranceMs = 60_000): Finding[] {
  const m = new Matcher({ toleranceMs });
  const out: Finding[] = [];
  for (const c of charges) out.push(...m.addLedger(c));
  for (const r of records) out.push(...m.addOperator(r));
  out.push(...m.finish());
  return out;
}

describe('matcher', () => {
  it('matches on the correlator first, whatever the time', () => {
    const f = run([ledger('d1')], [op('tx1', { correlator: 'd1', chargedAtMs: T0 + 3_600_000 })]);
    expect(f).toEqual([{ category: 'matched', by: 'correlator', ledger: ledger('d1'), operator: expect.objectContaining({ carrierTxId: 'tx1' }) }]);
  });

  it('matches CAMARA ids: the paymentId as the operator transaction id or in the correlator column, the clientCorrelator as the correlator', () => {
    const charges = [ledger('d1', { carrierRef: 'pay-1' }), ledger('d2', { carrierRef: 'pay-2' }), ledger('d3', { carrierRef: 'pay-3' })];
    const f = run(charges, [
      op('pay-1', { chargedAtMs: T0 + 3_600_000 }), // paymentId only, far in time: not the fallback
      op('tx-2', { correlator: 'pay-2', chargedAtMs: T0 + 3_600_000 }),
      op('pay-3', { correlator: 'd3' }), // both: our correlator first
      op('pay-1', { correlator: '' }), // the same payment again: a duplicate
      op('tx-9', { correlator: 'pay-1' }), // the same paymentId under another transaction id: charged twice
    ]);
    expect(f.map((x) => [x.category, 'by' in x ? x.by : '', 'ledger' in x ? x.ledger.correlator : ''])).toEqual([
      ['matched', 'carrier-ref', 'd1'], ['matched', 'carrier-ref', 'd2'], ['matched', 'correlator', 'd3'], ['duplicate', '', ''], ['duplicate', '', ''],
    ]);
    // Without the carrier ref on our side, a paymentId alone does not match by id.
    expect(run([ledger('d1')], [op('pay-1', { chargedAtMs: T0 + 3_600_000 })]).map((x) => x.category)).toEqual(['missing_in_ledger', 'missing_at_operator']);
  });

  it('falls back to MSISDN + amount + time, picking the closest in time', () => {
    const f = run([ledger('d1', { atMs: T0 }), ledger('d2', { atMs: T0 + 20_000 })], [op('tx1', { chargedAtMs: T0 + 15_000 })]);
    expect(f.map((x) => [x.category, 'ledger' in x ? x.ledger.correlator : null])).toEqual([['matched', 'd2'], ['missing_at_operator', 'd1']]);
  });

  it('the tolerance is inclusive at its edge, and one millisecond past it is no match', () => {
    expect(run([ledger('d1')], [op('tx1', { chargedAtMs: T0 + 60_000 })])[0]?.category).toBe('matched');
    expect(run([ledger('d1')], [op('tx1', { chargedAtMs: T0 - 60_000 })])[0]?.category).toBe('matched');
    expect(tally(run([ledger('d1')], [op('tx1', { chargedAtMs: T0 + 60_001 })]))).toMatchObject({ matched: 0, missing_in_ledger: 1, missing_at_operator: 1 });
  });

  it('amount and status mismatches on a correlator match', () => {
    expect(run([ledger('d1')], [op('tx1', { correlator: 'd1', amountMinor: 9_999n })])[0]?.category).toBe('amount_mismatch');
    expect(run([ledger('d1')], [op('tx1', { correlator: 'd1', currency: 'XOF' })])[0]?.category).toBe('amount_mismatch');
    expect(run([ledger('d1')], [op('tx1', { correlator: 'd1', status: 'failed' })])[0]?.category).toBe('status_mismatch');
    expect(run([ledger('d1', { status: 'refunded' })], [op('tx1', { correlator: 'd1', status: 'refunded' })])[0]?.category).toBe('matched');
  });

  it('missing on either side', () => {
    expect(tally(run([ledger('d1')], []))).toMatchObject({ missing_at_operator: 1 });
    expect(tally(run([], [op('tx1', { correlator: 'nope' })]))).toMatchObject({ missing_in_ledger: 1 });
  });

  it('duplicates on both sides: the same carrier id twice, a correlator charged twice, our correlator twice', () => {
    const f = run(
      [ledger('d1'), ledger('d1'), ledger('d2', { msisdn: '254711000002' })],
      [op('tx1', { correlator: 'd1' }), op('tx1', { correlator: 'd1' }), op('tx2', { correlator: 'd1' }), op('tx3', { correlator: 'd2', msisdn: '254711000002' })],
    );
    expect(f.map((x) => (x.category === 'duplicate' ? `duplicate:${x.side}` : x.category))).toEqual(['duplicate:ledger', 'matched', 'duplicate:operator', 'duplicate:operator', 'matched']);
  });

  it('every operator record gets exactly one finding, and every ledger charge is either matched once or reported', () => {
    fc.assert(fc.property(
      fc.array(fc.record({
        id: fc.integer({ min: 0, max: 30 }), amount: fc.integer({ min: 1, max: 5 }), dt: fc.integer({ min: -120_000, max: 120_000 }),
        withCorrelator: fc.boolean(),
      }), { maxLength: 40 }),
      fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 30 }),
      (rows, ledgerIds) => {
        const charges = [...new Set(ledgerIds)].map((i) => ledger(`d${i}`, { amountMinor: BigInt(1 + (i % 5)), atMs: T0 + i * 1_000 }));
        const records = rows.map((r, i) => op(`tx${i}`, { correlator: r.withCorrelator ? `d${r.id}` : '', amountMinor: BigInt(r.amount), chargedAtMs: T0 + r.id * 1_000 + r.dt }));
        const findings = run(charges, records);
        const operatorFindings = findings.filter((f) => 'operator' in f);
        expect(operatorFindings).toHaveLength(records.length);
        const ledgerUses = new Map<string, number>();
        for (const f of findings) if ('ledger' in f && f.category !== 'duplicate') ledgerUses.set(f.ledger.correlator, (ledgerUses.get(f.ledger.correlator) ?? 0) + 1);
        for (const c of charges) expect(ledgerUses.get(c.correlator)).toBe(1);
      },
    ));
  });

  it('refuses ledger charges after operator records started', () => {
    const m = new Matcher({ toleranceMs: 0 });
    m.addOperator(op('tx1'));
    expect(() => m.addLedger(ledger('d1'))).toThrow(/before the operator records/);
  });
});
