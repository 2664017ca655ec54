// Reassembly of concatenated inbound messages (UDH or SAR parts). Bounded in
// entries, parts per message and age. Each part carries a token (the caller's
// held PDU) so the caller can answer every part once the whole message is
// durable, or answer them all with a temporary error when it expires: a
// partial "PAY SHOP42 5" must never reach the payment parser. Pure: the
// clock is passed in.

export interface ReassemblyLimits {
  /** Messages being reassembled at once; a new one beyond this is refused. */
  readonly entriesMax: number;
  /** Highest total a message may announce. */
  readonly partsMax: number;
  /** How long the first part waits for the rest. */
  readonly timeoutMs: number;
}

export interface InboundPart<T> {
  /** Identifies the message: operator, source, destination and reference. */
  readonly key: string;
  readonly total: number;
  readonly seq: number;
  readonly dataCoding: number;
  readonly body: Buffer;
  readonly token: T;
}

export type AddResult<T> =
  | { readonly kind: 'pending' }
  | { readonly kind: 'complete'; readonly body: Buffer; readonly dataCoding: number; readonly tokens: readonly T[] }
  | { readonly kind: 'rejected'; readonly reason: 'bad-part' | 'too-many-parts' | 'buffer-full' | 'too-many-retransmits' };

interface Entry<T> {
  readonly total: number;
  readonly dataCoding: number;
  readonly firstSeenMs: number;
  readonly bodies: (Buffer | undefined)[];
  readonly tokens: T[];
  received: number;
}

export class Reassembler<T> {
  readonly #limits: ReassemblyLimits;
  readonly #entries = new Map<string, Entry<T>>();

  constructor(limits: ReassemblyLimits) {
    if (limits.entriesMax < 1 || limits.partsMax < 2 || limits.timeoutMs < 1) throw new RangeError('reassembly limits must be positive');
    this.#limits = limits;
  }

  get size(): number {
    return this.#entries.size;
  }

  add(part: InboundPart<T>, nowMs: number): AddResult<T> {
    if (!Number.isInteger(part.total) || !Number.isInteger(part.seq) || part.total < 1 || part.seq < 1 || part.seq > part.total) {
      return { kind: 'rejected', reason: 'bad-part' };
    }
    if (part.total > this.#limits.partsMax) return { kind: 'rejected', reason: 'too-many-parts' };
    if (part.total === 1) return { kind: 'complete', body: part.body, dataCoding: part.dataCoding, tokens: [part.token] };
    let entry = this.#entries.get(part.key);
    if (entry && entry.total !== part.total) return { kind: 'rejected', reason: 'bad-part' };
    if (!entry) {
      if (this.#entries.size >= this.#limits.entriesMax) return { kind: 'rejected', reason: 'buffer-full' };
      entry = { total: part.total, dataCoding: part.dataCoding, firstSeenMs: nowMs, bodies: new Array(part.total), tokens: [], received: 0 };
      this.#entries.set(part.key, entry);
    }
    // A retransmitted part is held and answered too, up to a bound; beyond it the SMSC is told to retry later.
    const retransmit = entry.bodies[part.seq - 1] !== undefined;
    if (retransmit && entry.tokens.length >= entry.total * 2) return { kind: 'rejected', reason: 'too-many-retransmits' };
    entry.tokens.push(part.token);
    if (entry.bodies[part.seq - 1] === undefined) {
      entry.bodies[part.seq - 1] = part.body;
      entry.received++;
    }
    if (entry.received < entry.total) return { kind: 'pending' };
    this.#entries.delete(part.key);
    // Concatenate bytes before decoding: a UCS-2 surrogate pair may straddle two parts.
    return { kind: 'complete', body: Buffer.concat(entry.bodies as Buffer[]), dataCoding: entry.dataCoding, tokens: entry.tokens };
  }

  /** Removes messages older than the timeout and returns their tokens to be answered. */
  expire(nowMs: number): T[][] {
    const expired: T[][] = [];
    for (const [key, entry] of this.#entries) {
      if (nowMs - entry.firstSeenMs >= this.#limits.timeoutMs) {
        this.#entries.delete(key);
        expired.push(entry.tokens);
      }
    }
    return expired;
  }

  /** Empties the buffer (session closed); returns every held token. */
  drain(): T[][] {
    const all = [...this.#entries.values()].map((e) => e.tokens);
    this.#entries.clear();
    return all;
  }
}
