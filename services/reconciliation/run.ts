// One reconciliation run: an operator's charging-records file against what
// billing says we captured through that operator over the same period.
// The file is read twice as a stream (first for its time span, then to
// match), so memory holds the ledger side and one record, whatever the
// file's length. The report lists every discrepancy and every bad row (CSV)
// with a summary (JSON); a ReconciliationCompleted event says whether a
// person needs to look.
import { createReadStream, createWriteStream, writeFileSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import { moneyFromProto, unixMsFromProto, unixMsToProto } from '../../proto/index.js';
import type { OperatorConfig } from '../../runtime/config/index.js';
import { Events, Requests, newEnvelope, publishEvent, requestReply } from '../../runtime/nats/index.js';
import { Matcher, type Category, type Finding } from './matcher.js';
import { readRecords } from './records.js';

const CHARGES_PAGE = 5_000;
/** Pages of our charges per run: 400 x 5,000 = two million before we stop and say so. */
const CHARGES_PAGES_MAX = 400;
const BILLING_TIMEOUT_MS = 60_000;

export interface ReconcileSummary {
  readonly operatorId: string;
  readonly file: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly counts: Record<Category, number>;
  readonly badRows: number;
  readonly needsAction: boolean;
  readonly reportCsv: string;
  readonly reportJson: string;
}

const HEADER = 'category,line,carrier_tx_id,correlator,msisdn,ledger_amount_minor,operator_amount_minor,currency,'
  + 'ledger_status,operator_status,detail';

/** A time span in epoch ms, both ends included; toMs < fromMs when the file has no readable charge. */
interface Span {
  readonly fromMs: number;
  readonly toMs: number;
}

export interface ReconcileOptions {
  operator: OperatorConfig; file: string; outBase: string; nc: NatsConnection; js: JetStreamClient; publishTimeoutMs: number;
  signal?: AbortSignal; eventId?: string;
}

function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function findingLine(f: Finding): string {
  const ledger = 'ledger' in f ? f.ledger : null;
  const operator = 'operator' in f ? f.operator : null;
  const detail = f.category === 'duplicate' ? `${f.side} side` : '';
  return [
    f.category, operator?.line ?? '', operator?.carrierTxId ?? '', ledger?.correlator ?? operator?.correlator ?? '',
    ledger?.msisdn ?? operator?.msisdn ?? '', ledger?.amountMinor ?? '', operator?.amountMinor ?? '',
    ledger?.currency ?? operator?.currency ?? '', ledger?.status ?? '', operator?.status ?? '', detail,
  ].map((v) => csvField(String(v))).join(',');
}

async function write(out: WriteStream, line: string): Promise<void> {
  if (!out.write(`${line}\n`)) await once(out, 'drain'); // back-pressure: the report never piles up in memory
}

/** The file's first and last charge times, from one streaming pass. */
async function timeSpan(file: string, operator: OperatorConfig): Promise<Span | null> {
  let fromMs = Number.POSITIVE_INFINITY;
  let toMs = Number.NEGATIVE_INFINITY;
  for await (const row of readRecords(createReadStream(file), operator.reconciliation, operator.countryCallingCode)) {
    if (!row.ok) continue;
    fromMs = Math.min(fromMs, row.record.chargedAtMs);
    toMs = Math.max(toMs, row.record.chargedAtMs);
  }
  return Number.isFinite(fromMs) ? { fromMs, toMs } : null;
}

/**
 * `signal`: the run's lease (exclusive.ts); once it aborts, the run stops at its next step and publishes nothing.
 * `eventId`: the ReconciliationCompleted event's id (Nats-Msg-Id), so a run taken over from one that died after
 * publishing is not told twice within the stream's duplicate window; random by default.
 */
export async function reconcile(options: ReconcileOptions): Promise<ReconcileSummary> {
  const { operator, file, signal } = options;
  const toleranceMs = operator.reconciliation.toleranceMs;
  const span: Span = (await timeSpan(file, operator)) ?? { fromMs: 0, toMs: -1 };
  const matcher = new Matcher({ toleranceMs });
  const counts: Record<Category, number> = {
    matched: 0, amount_mismatch: 0, status_mismatch: 0, missing_at_operator: 0, missing_in_ledger: 0, duplicate: 0,
  };
  const out = createWriteStream(`${options.outBase}.csv`);
  await write(out, HEADER);
  const report = async (findings: Finding[]) => {
    for (const f of findings) {
      counts[f.category]++;
      if (f.category !== 'matched') await write(out, findingLine(f));
    }
  };

  if (span.toMs >= span.fromMs) await reportLedgerSide(options, span, matcher, report);

  let badRows = 0;
  for await (const row of readRecords(createReadStream(file), operator.reconciliation, operator.countryCallingCode)) {
    signal?.throwIfAborted();
    if (!row.ok) {
      badRows++;
      await write(out, ['bad_row', row.line, '', '', '', '', '', '', '', '', csvField(row.reason)].join(','));
      continue;
    }
    await report(matcher.addOperator(row.record));
  }
  // Missing at the operator only inside the file's own span: charges just outside it are another file's.
  await report(matcher.finish()
    .filter((f) => f.category !== 'missing_at_operator' || (f.ledger.atMs >= span.fromMs && f.ledger.atMs <= span.toMs)));
  out.end();
  await once(out, 'finish');

  // A file with no readable charge at all is not "all good": an operator never has a day without one.
  const empty = span.toMs < span.fromMs;
  const needsAction = empty || badRows > 0 || Object.entries(counts).some(([category, n]) => category !== 'matched' && n > 0);
  const summary: ReconcileSummary = {
    operatorId: operator.id, file, fromMs: span.fromMs, toMs: span.toMs, counts, badRows, needsAction,
    reportCsv: `${options.outBase}.csv`, reportJson: `${options.outBase}.json`,
  };
  signal?.throwIfAborted();
  const from = span.toMs >= span.fromMs ? new Date(span.fromMs).toISOString() : null;
  const to = span.toMs >= span.fromMs ? new Date(span.toMs).toISOString() : null;
  writeFileSync(summary.reportJson, `${JSON.stringify({ ...summary, from, to }, null, 2)}\n`);
  await publishEvent(options.js, Events.reconciliationCompleted, {
    envelope: newEnvelope({ producer: 'reconciliation', ...(options.eventId ? { eventId: options.eventId } : {}) }),
    operatorId: operator.id, windowId: `${operator.id}/${file.split('/').pop() ?? file}`,
    matched: counts.matched, amountMismatch: counts.amount_mismatch, statusMismatch: counts.status_mismatch,
    missingAtOperator: counts.missing_at_operator,
    missingInLedger: counts.missing_in_ledger, duplicate: counts.duplicate, badRows, needsAction,
  }, { timeoutMs: options.publishTimeoutMs });
  return summary;
}

/** Our side: every charge the file could pair with (its span widened by the tolerance), read from billing page by page. */
async function reportLedgerSide(
  options: ReconcileOptions, span: Span, matcher: Matcher, report: (findings: Finding[]) => Promise<void>,
): Promise<void> {
  const { operator, signal } = options;
  const toleranceMs = operator.reconciliation.toleranceMs;
  let after = '';
  for (let page = 0; ; page++) {
    if (page >= CHARGES_PAGES_MAX) throw new Error('more charges in this span than one run reads; split the file');
    signal?.throwIfAborted();
    const reply = await requestReply(options.nc, Requests.billingCharges, {
      operatorId: operator.id, fromUnixMs: unixMsToProto(span.fromMs - toleranceMs),
      toUnixMs: unixMsToProto(span.toMs + toleranceMs + 1), limit: CHARGES_PAGE, afterDebitId: after,
    }, BILLING_TIMEOUT_MS);
    if (!reply.available) throw new Error('billing could not list the charges');
    for (const c of reply.charges ?? []) {
      const amount = moneyFromProto(c.amount);
      await report(matcher.addLedger({
        correlator: c.debitId ?? '', carrierRef: c.carrierRef ?? '', msisdn: c.msisdn ?? '', amountMinor: amount.amountMinor,
        currency: amount.currency, status: c.status === 'refunded' ? 'refunded' : 'captured', atMs: unixMsFromProto(c.atUnixMs),
      }));
      after = c.debitId ?? after;
    }
    if (!reply.more) break;
  }
}
