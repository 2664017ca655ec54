// Operator charging records: the documented format, a mapped one, and bad
// rows reported with their line numbers without stopping the file.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { baseConfigSchema } from '../../../runtime/config/index.js';
import { parseRow, readRecords, type ParsedRow, type RecordsConfig } from '../../../services/reconciliation/records.js';

const defaults = (): RecordsConfig => (baseConfigSchema.shape.operators.element.in.shape.reconciliation.parse(undefined) as RecordsConfig);

async function all(text: string, config = defaults()): Promise<ParsedRow[]> {
  const out: ParsedRow[] = [];
  for await (const row of readRecords(Readable.from([text]), config, '254')) out.push(row);
  return out;
}

describe('charging records', () => {
  it('reads the documented format, national numbers and both time forms', async () => {
    const rows = await all([
      'carrier_tx_id,correlator,msisdn,amount_minor,currency,status,charged_at',
      'T1,d-1,254711000001,1050,KES,charged,2026-11-20T10:00:00Z',
      'T2,,0711000002,200,kes,SUCCESS,1763632800000',
      '"T,3",d-3,+254711000003,5,KES,reversed,2026-11-20T13:00:00+03:00',
    ].join('\r\n'));
    expect(rows).toEqual([
      { ok: true, record: { line: 2, carrierTxId: 'T1', correlator: 'd-1', msisdn: '254711000001', amountMinor: 1050n, currency: 'KES', status: 'charged', chargedAtMs: Date.UTC(2026, 10, 20, 10) } },
      { ok: true, record: { line: 3, carrierTxId: 'T2', correlator: '', msisdn: '254711000002', amountMinor: 200n, currency: 'KES', status: 'charged', chargedAtMs: 1763632800000 } },
      { ok: true, record: { line: 4, carrierTxId: 'T,3', correlator: 'd-3', msisdn: '254711000003', amountMinor: 5n, currency: 'KES', status: 'refunded', chargedAtMs: Date.UTC(2026, 10, 20, 10) } },
    ]);
  });

  it('reports each bad row with its line and reason, and goes on', async () => {
    const rows = await all([
      'carrier_tx_id,correlator,msisdn,amount_minor,currency,status,charged_at',
      'T1,d-1,not-a-number,100,KES,charged,2026-11-20T10:00:00Z',
      'T2,d-2,254711000002,10.50,KES,charged,2026-11-20T10:00:00Z',
      'T3,d-3,254711000003,100,KES,maybe,2026-11-20T10:00:00Z',
      'T4,d-4,254711000004,100,KES,charged,2026-11-20 10:00',
      'T4b,d-7,254711000007,100,KES,charged,2026-11-20T10:00:00Z',
      'T5,d-5,254711000005,100,KES,charged,"2026-11-20T10:00:00Z',
      'T6,d-6,254711000006,100,KES,charged,2026-11-20T10:00:00Z',
    ].join('\n'));
    // Reports may come out of line order (the reader notices an unclosed quote only at the end).
    const bad = rows.filter((r): r is Extract<ParsedRow, { ok: false }> => !r.ok).map((r) => [r.line, r.reason.split(' ')[0]]).sort((a, b) => Number(a[0]) - Number(b[0]));
    // The quote opened on line 7 is never closed: the rest of the file is inside it, reported once, at its end.
    expect(bad).toEqual([[2, 'msisdn'], [3, 'amount_minor'], [4, 'status'], [5, 'charged_at'], [8, 'unreadable']]);
    expect(rows.filter((r) => r.ok).map((r) => r.ok && r.record.carrierTxId)).toEqual(['T4b']);
  });

  it('maps the headers and status words of an operator file that differs', async () => {
    const config = { ...defaults(), columns: { carrierTxId: 'TXN', correlator: 'CLIENT_REF', msisdn: 'MSISDN', amountMinor: 'AMOUNT_CENTS', currency: 'CCY', status: 'STATE', chargedAt: 'TS' }, statuses: { ok: 'charged' as const } };
    const rows = await all('TXN;CLIENT_REF;MSISDN;AMOUNT_CENTS;CCY;STATE;TS\n'.replace(/;/g, ',') + 'A1,d-9,254711000009,700,KES,OK,2026-11-20T10:00:00Z\n', config);
    expect(rows).toEqual([{ ok: true, record: expect.objectContaining({ carrierTxId: 'A1', correlator: 'd-9', amountMinor: 700n, status: 'charged' }) }]);
    expect(parseRow({ TXN: 'A2', MSISDN: '254711000009', AMOUNT_CENTS: '1', CCY: 'KES', STATE: 'charged', TS: '2026-11-20T10:00:00Z' }, 7, config, '254')).toEqual({ ok: false, line: 7, reason: 'STATE "charged" is not a status we know' });
  });

  it('a header without a mapped column is one clear error, not a million', async () => {
    expect(await all('carrier_tx_id,msisdn,amount_minor,currency,status\nT1,254711000001,1,KES,charged\n')).toEqual([{ ok: false, line: 1, reason: 'the header lacks charged_at' }]);
  });
});
