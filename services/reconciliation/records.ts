// Operator charging records: the documented CSV format and its reader.
//
// The format (one header line, then one charge a line, UTF-8, RFC 4180 quoting):
//   carrier_tx_id  the operator's own id for the charge (unique in the file); for a CAMARA
//                  operator, the paymentId is matched against the debit's carrier_ref
//   correlator     the id we gave the charge (our debit id, CAMARA's clientCorrelator), or the
//                  CAMARA paymentId; may be empty
//   msisdn         the subscriber, international or national form
//   amount_minor   whole minor units (1050 is 10.50 KES)
//   currency       ISO 4217
//   status         charged | refunded | failed (other words through config statuses)
//   charged_at     ISO 8601 with a zone (2026-11-20T10:00:00Z) or Unix milliseconds
// Operators whose files differ map their headers with operators[].reconciliation.columns.
//
// Bad rows are returned with their line number and reason, never thrown: one
// broken line must not stop a million good ones.
import { parse } from 'csv-parse';
import type { Readable } from 'node:stream';
import type { OperatorConfig } from '../../runtime/config/index.js';
import { toE164 } from '../../runtime/msisdn.js';
import type { OperatorRecord } from './matcher.js';

export type RecordsConfig = OperatorConfig['reconciliation'];

/** A line longer than this is not a charging record (and would cost memory to hold). */
const RECORD_BYTES_MAX = 4_096;
const AMOUNT_DIGITS_MAX = 15;

export type ParsedRow = { readonly ok: true; readonly record: OperatorRecord }
  | { readonly ok: false; readonly line: number; readonly reason: string };

/** One row (header -> value) to a record, or the reason it is not one. Pure. */
export function parseRow(
  row: Readonly<Record<string, string>>, line: number, config: RecordsConfig, countryCallingCode: string,
): ParsedRow {
  const c = config.columns;
  const field = (name: string) => (row[name] ?? '').trim();
  const bad = (reason: string): ParsedRow => ({ ok: false, line, reason });
  const carrierTxId = field(c.carrierTxId);
  if (!carrierTxId) return bad(`${c.carrierTxId} is empty`);
  const msisdn = toE164(field(c.msisdn), countryCallingCode);
  if (!msisdn) return bad(`${c.msisdn} "${field(c.msisdn).slice(0, 20)}" is not a phone number`);
  const amountText = field(c.amountMinor);
  if (!new RegExp(`^\\d{1,${AMOUNT_DIGITS_MAX}}$`).test(amountText)) {
    return bad(`${c.amountMinor} "${amountText.slice(0, 20)}" is not a whole number of minor units`);
  }
  const currency = field(c.currency).toUpperCase();
  if (!/^[A-Z]{3}$/.test(currency)) return bad(`${c.currency} "${currency.slice(0, 10)}" is not an ISO 4217 code`);
  const statusWord = field(c.status).toLowerCase();
  const status = config.statuses[statusWord];
  if (!status) return bad(`${c.status} "${statusWord.slice(0, 20)}" is not a status we know`);
  const atText = field(c.chargedAt);
  const chargedAtMs = /^\d{10,14}$/.test(atText) ? Number(atText)
    : /(?:Z|[+-]\d{2}:?\d{2})$/.test(atText) ? Date.parse(atText) : Number.NaN;
  if (!Number.isFinite(chargedAtMs)) return bad(`${c.chargedAt} "${atText.slice(0, 30)}" is not a time with a zone`);
  return {
    ok: true,
    record: { line, carrierTxId, correlator: field(c.correlator), msisdn, amountMinor: BigInt(amountText), currency, status, chargedAtMs },
  };
}

/**
 * Streams a file's records: memory stays bounded by one record whatever the file's length.
 * A header that lacks a mapped column ends the file with one bad row naming it.
 */
export async function* readRecords(input: Readable, config: RecordsConfig, countryCallingCode: string): AsyncGenerator<ParsedRow> {
  const parser = parse({
    columns: true, bom: true, skip_empty_lines: true, trim: true, relax_column_count: true, max_record_size: RECORD_BYTES_MAX, info: true,
    // A broken quote or an oversized line is skipped and reported, not fatal.
    skip_records_with_error: true,
  });
  const skipped: ParsedRow[] = [];
  parser.on('skip', (err: Error & { lines?: number }) => {
    skipped.push({ ok: false, line: err.lines ?? 0, reason: `unreadable line: ${err.message.slice(0, 200)}` });
  });
  // pipe() does not pass a read error on (a missing file would crash the process): end the parse with it.
  input.on('error', (err) => parser.destroy(err));
  input.pipe(parser);
  let checkedHeader = false;
  for await (const { record, info } of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
    while (skipped.length > 0) yield skipped.shift() as ParsedRow;
    if (!checkedHeader) {
      checkedHeader = true;
      const missing = Object.values(config.columns).filter((name) => name !== config.columns.correlator && !(name in record));
      if (missing.length > 0) {
        yield { ok: false, line: 1, reason: `the header lacks ${missing.join(', ')}` };
        input.destroy();
        return;
      }
    }
    yield parseRow(record, info.lines, config, countryCallingCode);
  }
  while (skipped.length > 0) yield skipped.shift() as ParsedRow;
}
