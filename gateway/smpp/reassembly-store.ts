// The parts of long inbound messages in the KV bucket sms_parts, shared by
// every gateway replica: an SMSC sends the parts of one message on whichever
// bind it likes, and each bind may be on another replica. Every write is
// checked against the revision it was decided on (reassembly.ts decides), so
// two replicas taking the last two parts at once cannot both miss the other's
// part nor both publish: the loser reads again and decides again.
//
// A part is acknowledged once its record is durable; the replica whose write
// completes the message publishes it. A message that stays incomplete is
// removed when its timeout passes by a replica that stored a part of it (each
// keeps a note of those, bounded), which logs and counts it; the bucket's TTL,
// longer than any operator's timeout, forgets what no live replica noted.
import { randomUUID } from 'node:crypto';
import type { KV } from '@nats-io/kv';
import type { Logger } from '../../runtime/log.js';
import {
  decide, decodeStored, encodeStored, partsHeld, publishedFrom, timedOut,
  type Claimed, type Collecting, type InboundPart, type ReassemblyLimits,
} from './reassembly.js';
import type { SmppMetrics } from './metrics.js';

/** Reads and writes for one part before it is sent back for a retry: each lost race costs one round. */
export const CAS_ATTEMPTS_MAX = 8;

export type StoreOutcome =
  /** The part is durable (or was already, or its message was published): acknowledge it. */
  | { readonly kind: 'stored' }
  /** The message is whole and this caller must publish it under `eventId`, then call published(). */
  | {
    readonly kind: 'publish'; readonly body: Buffer; readonly dataCoding: number; readonly eventId: string;
    readonly published: () => Promise<void>;
  }
  | { readonly kind: 'rejected'; readonly reason: 'bad-part' | 'too-many-parts' | 'too-large' }
  /** Temporary: another replica is publishing it, this replica notes too many messages, or the races went on. */
  | { readonly kind: 'retry-later'; readonly reason: 'busy' | 'buffer-full' | 'contended' };

export interface SharedReassemblyOptions {
  readonly kv: Pick<KV, 'get' | 'put' | 'purge'>;
  readonly operatorId: string;
  readonly limits: ReassemblyLimits;
  /** Messages this replica notes at once (it stored a part and waits for the rest); a new one beyond it is refused. */
  readonly messagesMax: number;
  /** How long a claim is left to the replica that made it before another publishes it again. */
  readonly publishGraceMs: number;
  readonly log: Logger;
  readonly metrics: SmppMetrics;
}

interface Noted {
  readonly firstSeenMs: number;
  deadlineMs: number;
}

/** A write refused because the key moved on since it was read (JetStream "wrong last sequence"). */
export function isRevisionConflict(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e?.code === 10071 || e?.code === 10164 || /wrong last sequence/i.test(String(e?.message ?? ''));
}

export class SharedReassembly {
  readonly #o: SharedReassemblyOptions;
  /** Messages this replica stored a part of and waits on, by key: it removes them if they time out. */
  readonly #noted = new Map<string, Noted>();
  #sweeping = false;

  constructor(options: SharedReassemblyOptions) {
    this.#o = options;
  }

  /** Messages this replica waits on. */
  get size(): number {
    return this.#noted.size;
  }

  /** Adds `part` to the message at `key`. Rejects when the bucket cannot be read or written (the SMSC is to retry). */
  async add(key: string, part: InboundPart): Promise<StoreOutcome> {
    const { kv, limits, publishGraceMs } = this.#o;
    for (let attempt = 0; attempt < CAS_ATTEMPTS_MAX; attempt++) {
      const entry = await kv.get(key);
      const revision = entry?.revision ?? 0;
      const current = entry && entry.operation === 'PUT' ? decodeStored(entry.value) : null;
      const nowMs = Date.now();
      const decision = decide(current, part, nowMs, limits, randomUUID(), publishGraceMs);
      switch (decision.kind) {
        case 'rejected':
          return decision;
        case 'done':
          return { kind: 'stored' };
        case 'busy':
          return { kind: 'retry-later', reason: 'busy' };
        case 'publish-again':
          return this.#publish(key, revision, decision.record, decision.body, decision.dataCoding);
        case 'store': {
          const fresh = decision.record.firstSeenMs === nowMs;
          if (fresh && !this.#noted.has(key) && this.#noted.size >= this.#o.messagesMax) {
            return { kind: 'retry-later', reason: 'buffer-full' };
          }
          if (!(await this.#write(key, encodeStored(decision.record), revision))) continue;
          if (decision.expired) this.#timedOut(key, decision.expired, nowMs);
          this.#noted.set(key, { firstSeenMs: decision.record.firstSeenMs, deadlineMs: decision.record.firstSeenMs + limits.timeoutMs });
          return { kind: 'stored' };
        }
        case 'claim': {
          const claimed = await this.#write(key, encodeStored(decision.record), revision);
          if (claimed === null) continue;
          if (decision.expired) this.#timedOut(key, decision.expired, nowMs);
          this.#noted.delete(key);
          return this.#publish(key, claimed, decision.record, decision.body, decision.dataCoding);
        }
      }
    }
    return { kind: 'retry-later', reason: 'contended' };
  }

  /**
   * Removes the noted messages whose timeout has passed and that are still incomplete, each
   * by one replica only (a revision-checked purge): that one logs and counts it. A sweep still
   * running when the next is due is not doubled.
   */
  async sweep(nowMs: number): Promise<void> {
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      for (const [key, noted] of [...this.#noted]) {
        if (nowMs < noted.deadlineMs) continue;
        const entry = await this.#o.kv.get(key);
        const current = entry && entry.operation === 'PUT' ? decodeStored(entry.value) : null;
        if (!entry || current?.state !== 'collecting' || current.firstSeenMs !== noted.firstSeenMs) {
          this.#noted.delete(key); // completed, replaced or forgotten: not ours to report
          continue;
        }
        if (!timedOut(current, nowMs, this.#o.limits.timeoutMs)) {
          noted.deadlineMs = current.firstSeenMs + this.#o.limits.timeoutMs;
          continue;
        }
        try {
          // Purge, not delete: the parts' text leaves the bucket now, not when the TTL comes.
          await this.#o.kv.purge(key, { previousSeq: entry.revision });
          this.#timedOut(key, current, nowMs);
        } catch (err) {
          if (!isRevisionConflict(err)) throw err; // kept noted: the next sweep tries again
        }
        this.#noted.delete(key);
      }
    } finally {
      this.#sweeping = false;
    }
  }

  /** Forgets what this replica noted (stopping); the other replicas and the bucket's TTL take over. */
  clear(): void {
    this.#noted.clear();
  }

  /** Writes at `revision` (0: the key must hold nothing); the new revision, or null if the key moved on. */
  async #write(key: string, value: Uint8Array, revision: number): Promise<number | null> {
    try {
      return await this.#o.kv.put(key, value, { previousSeq: revision });
    } catch (err) {
      if (isRevisionConflict(err)) return null;
      throw err;
    }
  }

  #publish(key: string, revision: number, claim: Claimed, body: Buffer, dataCoding: number): StoreOutcome {
    return {
      kind: 'publish',
      body,
      dataCoding,
      eventId: claim.eventId,
      // Best effort: a claim left behind is published again (same id, dropped as a duplicate) if a part comes back, and the TTL forgets it.
      published: async () => {
        try {
          await this.#write(key, encodeStored(publishedFrom(claim, Date.now())), revision);
        } catch (err) {
          this.#o.log.warn({ err, operator: this.#o.operatorId }, 'long message published but not marked so in the reassembly bucket');
        }
      },
    };
  }

  #timedOut(key: string, record: Collecting, nowMs: number): void {
    const parts = partsHeld(record);
    this.#o.metrics.reassemblyPartsExpired.inc({ operator: this.#o.operatorId }, parts);
    // Its parts were acknowledged when they were stored: the SMSC will not send them again. No text, no number here.
    this.#o.log.warn(
      {
        operator: this.#o.operatorId, reference: key.split('.').slice(-2, -1)[0], partsReceived: parts, partsTotal: record.total,
        waitedMs: nowMs - record.firstSeenMs,
      },
      'long message timed out unassembled: its parts are dropped',
    );
  }
}
