// The gateways' durable record of the SMS the SMSCs took, shared by every
// replica: records wait a few milliseconds (batcher.ts) and go to the SMS_SENT
// stream as ONE message per batch; an SmsOutbound is acked only after its
// batch's PubAck. Every replica keeps the records of all replicas in memory
// (sent-index.ts): its own at submit, the others' from a core subscription to
// the stream's subject, and at start (or on a miss that matters) by reading the
// stream's newest batches by sequence. So a receipt finds its message on any
// replica, and an SmsOutbound redelivered after its gateway died past the
// write is not sent twice. No consumer is created: the stream is read by sequence.
import { headers as natsHeaders, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { DurablePublish } from '../../runtime/nats/pubacks.js';
import type { Logger } from '../../runtime/log.js';
import { SMS_SENT_BATCH_BYTES_MAX, SMS_SENT_STREAM, SMS_SENT_SUBJECT } from '../../runtime/nats/topology.js';
import { Batcher } from './batcher.js';
import type { SentIndex, SentRecord } from './sent-index.js';
import type { SmppMetrics } from './metrics.js';

/**
 * A batch waits this long for more records: one durable message carries every SMS the replica's
 * handlers finished in the meantime. It delays the ack of the SmsOutbound, not the SMS.
 */
export const SENT_BATCH_LINGER_MS = 5;
export const SENT_BATCH_RECORDS_MAX = 256;
/** Room left in a batch for its envelope ({"atMs":…,"records":[]}); a record's size is its JSON's length. */
const BATCH_OVERHEAD_BYTES = 64;
/** Batches read at start, or when a redelivered message or a receipt is not found: the newest ones, at most this many. */
export const SENT_READ_BATCHES_MAX = 20_000;
/** Direct gets in flight at once while reading the stream. */
const READ_CONCURRENCY = 64;
const HEADER_TYPE = 'Dialpay-Event-Type';
const BATCH_TYPE = 'dialpay.gateway.SentBatch.v1';

/** One stored batch: when it was written and its records as [messageRef, operatorId, smscIds]. JSON: no other service reads it. */
interface SentBatchWire {
  readonly atMs: number;
  readonly records: readonly (readonly [string, string, readonly string[]])[];
}

export function encodeSentBatch(atMs: number, records: readonly SentRecord[]): Uint8Array {
  const wire: SentBatchWire = { atMs, records: records.map((r) => [r.messageRef, r.operatorId, r.smscIds] as const) };
  return Buffer.from(JSON.stringify(wire));
}

/** The batch's time and records, or null when the bytes are not a batch. */
export function decodeSentBatch(data: Uint8Array): { atMs: number; records: SentRecord[] } | null {
  let wire: SentBatchWire;
  try {
    wire = JSON.parse(Buffer.from(data).toString('utf8')) as SentBatchWire;
  } catch {
    return null;
  }
  if (typeof wire?.atMs !== 'number' || !Array.isArray(wire.records)) return null;
  const records: SentRecord[] = [];
  for (const r of wire.records) {
    if (!Array.isArray(r) || typeof r[0] !== 'string' || typeof r[1] !== 'string' || !Array.isArray(r[2])) return null;
    records.push({ messageRef: r[0], operatorId: r[1], smscIds: r[2].map(String) });
  }
  return { atMs: wire.atMs, records };
}

export interface SentLogOptions {
  readonly nc: NatsConnection;
  /** Durable publishes: the connection's PubAckMux (nats.publisher). */
  readonly js: DurablePublish;
  readonly jsm: JetStreamManager;
  readonly index: SentIndex;
  readonly publishTimeoutMs: number;
  readonly log: Logger;
  readonly metrics: SmppMetrics;
  readonly lingerMs?: number;
  readonly readBatchesMax?: number;
  readonly nowMs?: () => number;
}

interface CatchUp {
  readonly startedAtMs: number;
  readonly done: Promise<void>;
}

export class SentLog {
  readonly #o: SentLogOptions;
  readonly #batcher: Batcher<SentRecord>;
  readonly #now: () => number;
  #subscription: Subscription | null = null;
  /** Every batch up to this stream sequence has been read (by a catch-up; the subscription has no sequences). */
  #readThroughSeq = 0;
  #lastCatchUp: CatchUp | null = null;
  #batchCounter = 0;
  readonly #writerId = `${process.pid.toString(16)}-${Math.floor(Math.random() * 0xffffffff).toString(16)}`;

  constructor(options: SentLogOptions) {
    this.#o = options;
    this.#now = options.nowMs ?? Date.now;
    this.#batcher = new Batcher<SentRecord>({
      lingerMs: options.lingerMs ?? SENT_BATCH_LINGER_MS,
      itemsMax: SENT_BATCH_RECORDS_MAX,
      bytesMax: SMS_SENT_BATCH_BYTES_MAX - BATCH_OVERHEAD_BYTES,
      write: (records) => this.#write(records),
    });
  }

  /** Listens to the other replicas' batches, then reads the newest stored ones (subscribed first: nothing falls between). */
  async start(): Promise<void> {
    this.#subscription = this.#o.nc.subscribe(SMS_SENT_SUBJECT, {
      callback: (err, msg) => {
        if (err) return;
        this.#index(msg.data, 'live');
      },
    });
    await this.#o.nc.flush();
    await this.catchUp(this.#now());
  }

  /** Stops listening, after writing what waits. */
  async close(): Promise<void> {
    await this.#batcher.flush();
    this.#subscription?.unsubscribe();
    this.#subscription = null;
  }

  /**
   * Keeps the record in memory at once (a receipt may come on this replica before the batch is
   * written), then resolves when its batch is durable; rejects when the write failed.
   */
  record(record: SentRecord): Promise<void> {
    this.#o.index.add(record, this.#now());
    this.#o.metrics.sentIndexRecords.set(this.#o.index.size);
    // Its exact share of the batch's JSON (and a comma), so a batch never passes the stream's message size.
    const bytes = Buffer.byteLength(JSON.stringify([record.messageRef, record.operatorId, record.smscIds])) + 1;
    return this.#batcher.add(record, bytes);
  }

  smscIdsOf(messageRef: string): readonly string[] | null {
    return this.#o.index.smscIdsOf(messageRef);
  }

  messageRefOf(operatorId: string, smscId: string): string | null {
    return this.#o.index.messageRefOf(operatorId, smscId);
  }

  /**
   * Reads what the stream holds beyond what was read before (the newest readBatchesMax batches at
   * most), unless a read that started at or after notBeforeMs already did: a record written before
   * notBeforeMs is then in memory if the stream still has it. One read at a time, shared by callers.
   */
  async catchUp(notBeforeMs: number): Promise<void> {
    // Bounded: a read started by another caller after ours began waiting started after notBeforeMs,
    // unless the clock stepped back; then, after a few rounds, this caller reads for itself.
    for (let round = 0; round < 3; round++) {
      const last = this.#lastCatchUp;
      if (last && last.startedAtMs >= notBeforeMs) return last.done;
      if (!last) break;
      await last.done.catch(() => undefined);
      if (this.#lastCatchUp === last) break; // nobody started one meanwhile: this caller does
    }
    const read = { startedAtMs: this.#now(), done: this.#readNewest() };
    this.#lastCatchUp = read;
    return read.done;
  }

  async #write(records: readonly SentRecord[]): Promise<void> {
    const h = natsHeaders();
    h.set(HEADER_TYPE, BATCH_TYPE);
    const msgID = `sent-${this.#writerId}-${++this.#batchCounter}`;
    await this.#o.js.publish(SMS_SENT_SUBJECT, encodeSentBatch(this.#now(), records),
      { msgID, timeout: this.#o.publishTimeoutMs, headers: h });
    this.#o.metrics.sentBatchRecords.observe(records.length);
  }

  /** Keeps a batch's records; its time, or null when the bytes are not a batch. */
  #index(data: Uint8Array, source: 'live' | 'read'): number | null {
    const batch = decodeSentBatch(data);
    if (!batch) {
      this.#o.log.warn({ source }, 'SMS_SENT message is not a sent batch; skipped');
      return null;
    }
    for (const record of batch.records) this.#o.index.add(record, batch.atMs);
    this.#o.metrics.sentIndexRecords.set(this.#o.index.size);
    return batch.atMs;
  }

  async #readNewest(): Promise<void> {
    const { jsm, index, log } = this.#o;
    const { state } = await jsm.streams.info(SMS_SENT_STREAM);
    const batchesMax = this.#o.readBatchesMax ?? SENT_READ_BATCHES_MAX;
    const first = Math.max(state.first_seq, this.#readThroughSeq + 1, state.last_seq - batchesMax + 1);
    if (this.#readThroughSeq > 0 && first > this.#readThroughSeq + 1) {
      log.warn({ skippedBatches: first - this.#readThroughSeq - 1 },
        'sent log: more new batches than one read takes; the oldest were left out');
    }
    const oldestKeptMs = this.#now() - index.ageMs;
    // Newest first: the index keeps the newest when full, and reading stops at batches older than it keeps.
    for (let high = state.last_seq; high >= first; high -= READ_CONCURRENCY) {
      const seqs = Array.from({ length: Math.min(READ_CONCURRENCY, high - first + 1) }, (_, i) => high - i);
      // A sequence gone meanwhile (max_age, discard old) reads as null; any other failure ends this
      // read before #readThroughSeq moves, so the next miss reads those batches again.
      const messages = await Promise.all(seqs.map((seq) => jsm.streams.getMessage(SMS_SENT_STREAM, { seq })));
      let anyKept = false;
      for (const m of messages) {
        const atMs = m ? this.#index(m.data, 'read') : null;
        if (atMs !== null && atMs > oldestKeptMs) anyKept = true;
      }
      if (!anyKept || index.size >= index.recordsMax) break;
    }
    this.#readThroughSeq = Math.max(this.#readThroughSeq, state.last_seq);
  }
}
