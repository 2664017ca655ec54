// Which SMS of one payment the SMSCs took, read back from the gateways' SMS_SENT stream
// (sent-log.ts) for customer care's `dialpay payment show`. The stream keeps no text and no
// number, only [messageRef, operator, SMSC ids] per SMS, in batches; a payment's SMS have message
// refs "<payment id>:<what>" (challenge-sms, receipt-payer, ...). Nothing is indexed by payment:
// the batches written while the payment lived are found by sequence (a binary search on the
// batches' times) and read, a bounded number of them, with no consumer. Read-only.
import type { JetStreamManager } from '@nats-io/jetstream';
import { SMS_SENT_STREAM } from '../../runtime/nats/topology.js';
import { decodeSentBatch } from './sent-log.js';
import type { SentRecord } from './sent-index.js';

/** Batches read for one payment at most: a care lookup, not a scan of three days of traffic. */
export const SENT_SEARCH_BATCHES_MAX = 2_000;
/** Gets in flight at once. */
const READ_CONCURRENCY = 64;
/** Batches are written by several replicas with their own clocks: the window is widened by this much. */
const CLOCK_SKEW_MS = 5_000;

export interface SentSms {
  /** What the SMS was (the message ref's part after the payment id): challenge-sms, receipt-payer, retry-1, ... */
  readonly what: string;
  readonly operatorId: string;
  /** The SMSC's ids for it, one per part: what its delivery receipts would name. */
  readonly smscIds: readonly string[];
  /** When the batch holding its record was written (just after the SMSC took it). */
  readonly atMs: number;
}

export interface SentSearch {
  readonly sms: SentSms[];
  readonly batchesRead: number;
  /** The window held more batches than SENT_SEARCH_BATCHES_MAX: later SMS may be missing. */
  readonly truncated: boolean;
  /** The stream's oldest batch is newer than the window's start (max_age, 3 days): earlier SMS are gone. */
  readonly agedOut: boolean;
}

/** The batch at seq; null when it is gone (max_age, discard old) or is no batch. */
async function batchAt(jsm: JetStreamManager, seq: number): Promise<{ atMs: number; records: SentRecord[] } | null> {
  const msg = await jsm.streams.getMessage(SMS_SENT_STREAM, { seq }).catch(() => null);
  return msg ? decodeSentBatch(msg.data) : null;
}

/** The first sequence whose batch was written at or after atMs (batches go roughly in time order). */
async function firstSeqFrom(jsm: JetStreamManager, firstSeq: number, lastSeq: number, atMs: number): Promise<number> {
  let low = firstSeq;
  let high = lastSeq + 1;
  while (low < high) {
    const mid = Math.floor((low + high) / 2);
    const batch = await batchAt(jsm, mid);
    // A gap (a batch gone meanwhile) counts as older: the search moves on past it.
    if (batch === null || batch.atMs < atMs) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** The SMS whose message ref starts with "<paymentId>:", sent between fromMs and toMs (widened for clocks). */
export async function sentSmsOf(jsm: JetStreamManager, paymentId: string, fromMs: number, toMs: number): Promise<SentSearch> {
  const { state } = await jsm.streams.info(SMS_SENT_STREAM);
  if (state.messages === 0) return { sms: [], batchesRead: 0, truncated: false, agedOut: false };
  const startMs = fromMs - CLOCK_SKEW_MS;
  const endMs = toMs + CLOCK_SKEW_MS;
  const oldest = await batchAt(jsm, state.first_seq);
  const agedOut = oldest !== null && oldest.atMs > startMs;
  const prefix = `${paymentId}:`;
  const sms: SentSms[] = [];
  let seq = await firstSeqFrom(jsm, state.first_seq, state.last_seq, startMs);
  let batchesRead = 0;
  while (seq <= state.last_seq && batchesRead < SENT_SEARCH_BATCHES_MAX) {
    const count = Math.min(READ_CONCURRENCY, state.last_seq - seq + 1, SENT_SEARCH_BATCHES_MAX - batchesRead);
    const batches = await Promise.all(Array.from({ length: count }, (_, i) => batchAt(jsm, seq + i)));
    seq += count;
    batchesRead += count;
    let past = true;
    for (const b of batches) {
      if (b === null) continue;
      if (b.atMs <= endMs) past = false;
      for (const r of b.records) {
        if (r.messageRef.startsWith(prefix)) {
          sms.push({ what: r.messageRef.slice(prefix.length), operatorId: r.operatorId, smscIds: r.smscIds, atMs: b.atMs });
        }
      }
    }
    if (past) return { sms: sortByTime(sms), batchesRead, truncated: false, agedOut };
  }
  return { sms: sortByTime(sms), batchesRead, truncated: seq <= state.last_seq, agedOut };
}

/** A rewrite of a record (a redelivery after the write) is one SMS, not two: the first kept. */
function sortByTime(sms: SentSms[]): SentSms[] {
  const seen = new Set<string>();
  return sms.sort((a, b) => a.atMs - b.atMs).filter((s) => {
    const key = `${s.what}|${s.smscIds.join(',')}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
