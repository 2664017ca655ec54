// Every gateway replica's memory of the SMS sent lately, by any replica: the
// message's SMSC ids (a redelivered SmsOutbound already sent is not sent
// again) and, per SMSC id, the message (a receipt finds it). Bounded in
// number and in age. Pure: no I/O, the clock is injected.

/** One outbound SMS the SMSC took whole: our reference, the operator, each part's SMSC id (in order). */
export interface SentRecord {
  readonly messageRef: string;
  readonly operatorId: string;
  readonly smscIds: readonly string[];
}

/**
 * Records kept, and for how long. About 250 bytes a record in two maps: 400,000 is some 100 MB
 * at most. At 3,000 SMS/s that is over two minutes, longer than the outbound consumer's ack wait
 * (a redelivery after a crash); at lower rates the age bounds it. A receipt later than what is
 * kept is published without its message and counted (dialpay_smpp_receipts_uncorrelated_total).
 */
export const SENT_INDEX_RECORDS_MAX = 400_000;
export const SENT_INDEX_AGE_MS = 60 * 60_000;
/** Records are kept and expired in time slots (generations), a twelfth of the age each: no timestamp per record. */
const GENERATIONS_PER_AGE = 12;

interface Generation {
  readonly slot: number;
  readonly byRef: Map<string, SentRecord>;
  readonly bySmscId: Map<string, string>;
}

const smscKey = (operatorId: string, smscId: string) => `${operatorId}\u0000${smscId}`;

export class SentIndex {
  /** Oldest slot first. */
  readonly #generations: Generation[] = [];
  readonly #generationMs: number;
  #size = 0;

  constructor(readonly recordsMax: number, readonly ageMs: number, private readonly nowMs: () => number = Date.now) {
    if (recordsMax < 1 || ageMs < GENERATIONS_PER_AGE) {
      throw new RangeError(`recordsMax must be positive and ageMs at least ${GENERATIONS_PER_AGE}`);
    }
    this.#generationMs = Math.ceil(ageMs / GENERATIONS_PER_AGE);
  }

  /** Records kept now. */
  get size(): number {
    return this.#size;
  }

  /**
   * Keeps a record sent at atMs (the time of its batch). False when it is already kept or older than
   * the age (kept at least ageMs, at most one slot, a twelfth of it, more); the oldest go when full.
   */
  add(record: SentRecord, atMs: number): boolean {
    const now = this.nowMs();
    this.#expire(now);
    if (atMs <= now - this.ageMs || this.smscIdsOf(record.messageRef) !== null) return false;
    const generation = this.#generationFor(Math.floor(atMs / this.#generationMs));
    generation.byRef.set(record.messageRef, record);
    // deliver_sm_resp (server mode) carries no message id: nothing for a receipt to find.
    for (const id of record.smscIds) if (id) generation.bySmscId.set(smscKey(record.operatorId, id), record.messageRef);
    this.#size++;
    while (this.#size > this.recordsMax) this.#evictOldest();
    return true;
  }

  /** The SMSC ids of a message sent within the age, or null. */
  smscIdsOf(messageRef: string): readonly string[] | null {
    this.#expire(this.nowMs());
    for (let i = this.#generations.length - 1; i >= 0; i--) {
      const record = (this.#generations[i] as Generation).byRef.get(messageRef);
      if (record) return record.smscIds;
    }
    return null;
  }

  /** The message an SMSC id (as normalised for receipts) belongs to, or null. */
  messageRefOf(operatorId: string, smscId: string): string | null {
    this.#expire(this.nowMs());
    const key = smscKey(operatorId, smscId);
    for (let i = this.#generations.length - 1; i >= 0; i--) {
      const ref = (this.#generations[i] as Generation).bySmscId.get(key);
      if (ref !== undefined) return ref;
    }
    return null;
  }

  #generationFor(slot: number): Generation {
    let i = this.#generations.length;
    // Records come mostly in time order: search from the newest.
    while (i > 0 && (this.#generations[i - 1] as Generation).slot > slot) i--;
    const before = this.#generations[i - 1];
    if (before && before.slot === slot) return before;
    const generation: Generation = { slot, byRef: new Map(), bySmscId: new Map() };
    this.#generations.splice(i, 0, generation);
    return generation;
  }

  #expire(now: number): void {
    // A slot goes once its newest possible record is older than the age.
    const oldestSlotKept = Math.floor((now - this.ageMs) / this.#generationMs);
    while (this.#generations.length > 0 && (this.#generations[0] as Generation).slot < oldestSlotKept) {
      this.#size -= (this.#generations.shift() as Generation).byRef.size;
    }
  }

  #evictOldest(): void {
    const oldest = this.#generations[0] as Generation;
    // Map keeps insertion order: the first record is the oldest added to that slot.
    for (const [ref, record] of oldest.byRef) {
      oldest.byRef.delete(ref);
      for (const id of record.smscIds) if (id) oldest.bySmscId.delete(smscKey(record.operatorId, id));
      this.#size--;
      break;
    }
    if (oldest.byRef.size === 0) this.#generations.shift();
  }
}
