// Reassembly of concatenated inbound messages (UDH or SAR parts). An SMSC may
// send the parts of one message on binds to different gateway replicas, so
// the parts live in a KV bucket every replica shares (reassembly-store.ts
// reads and writes it, with revision checks). This module decides what one
// part does to the stored record, when the message is whole, and joins it;
// a partial "PAY SHOP42 5" must never reach the payment parser. Pure: the
// clock and the event id are passed in.
//
// A record goes collecting -> claimed -> published. Claiming is the write
// that adds the last missing part: only one writer's revision check can win
// it, and only the winner publishes the event (under the event id the claim
// holds, so a replica that must publish again after a failure publishes the
// same id and JetStream drops the copy). Published keeps no text: only that
// the message was handled, so a retransmitted part is acknowledged and not
// taken for the start of a new message until the bucket's TTL forgets it.

export interface ReassemblyLimits {
  /** Highest total a message may announce. */
  readonly partsMax: number;
  /** Bytes of body, all parts together, a message may have (the KV value is bounded). */
  readonly bodyBytesMax: number;
  /** How long the first part waits for the rest. */
  readonly timeoutMs: number;
}

/** Body bytes of one message, all parts: 255 full SMS parts (140 bytes each) fit. */
export const REASSEMBLY_BODY_BYTES_MAX = 36 * 1024;

export interface InboundPart {
  readonly total: number;
  readonly seq: number;
  readonly dataCoding: number;
  readonly body: Buffer;
}

export interface Collecting {
  readonly state: 'collecting';
  readonly total: number;
  readonly dataCoding: number;
  /** When the first stored part arrived (the replica's clock): the timeout runs from here. */
  readonly firstSeenMs: number;
  /** Index seq-1; null where that part has not arrived. */
  readonly bodies: readonly (Buffer | null)[];
}

export interface Claimed {
  readonly state: 'claimed';
  readonly total: number;
  readonly dataCoding: number;
  readonly firstSeenMs: number;
  readonly bodies: readonly Buffer[];
  readonly eventId: string;
  readonly claimedAtMs: number;
}

export interface Published {
  readonly state: 'published';
  readonly firstSeenMs: number;
  readonly eventId: string;
  readonly publishedAtMs: number;
}

export type StoredMessage = Collecting | Claimed | Published;

export type Decision =
  /** Refused: bad numbering or a message beyond the bounds. Permanent: a retry is no better. */
  | { readonly kind: 'rejected'; readonly reason: 'bad-part' | 'too-many-parts' | 'too-large' }
  /** Write `record` (the part added); once stored the part is acknowledged. `expired`: the timed-out record it replaces. */
  | { readonly kind: 'store'; readonly record: Collecting; readonly expired: Collecting | null }
  /** The part completes the message: write `record`; whoever's write wins publishes `text` under `eventId`. */
  | {
    readonly kind: 'claim'; readonly record: Claimed; readonly body: Buffer; readonly dataCoding: number;
    readonly expired: Collecting | null;
  }
  /** Claimed long enough ago that its publisher gave up or died: publish again under the same id. */
  | { readonly kind: 'publish-again'; readonly record: Claimed; readonly body: Buffer; readonly dataCoding: number }
  /** Claimed a moment ago by another part: its publish is under way; the SMSC should try again shortly. */
  | { readonly kind: 'busy' }
  /** Nothing to write: the part is stored already, or the message was published. Acknowledge it. */
  | { readonly kind: 'done' };

/** The numbering and size checks a part must pass before any record is read. */
export function checkPart(part: InboundPart, limits: ReassemblyLimits): Decision | null {
  if (!Number.isInteger(part.total) || !Number.isInteger(part.seq) || part.total < 1 || part.seq < 1 || part.seq > part.total) {
    return { kind: 'rejected', reason: 'bad-part' };
  }
  if (part.total > limits.partsMax) return { kind: 'rejected', reason: 'too-many-parts' };
  if (part.body.length > limits.bodyBytesMax) return { kind: 'rejected', reason: 'too-large' };
  return null;
}

/**
 * Whether a collecting record has waited its time for the rest. Claimed and published records do not time out here
 * (the bucket's TTL forgets them).
 */
export function timedOut(record: StoredMessage, nowMs: number, timeoutMs: number): boolean {
  return record.state === 'collecting' && nowMs - record.firstSeenMs >= timeoutMs;
}

/**
 * What `part` does to `current` (the stored record, or null). `eventId` names the event should
 * this part complete the message; `publishGraceMs` is how long a claim is left to its publisher.
 */
export function decide(
  current: StoredMessage | null, part: InboundPart, nowMs: number, limits: ReassemblyLimits, eventId: string, publishGraceMs: number,
): Decision {
  const refused = checkPart(part, limits);
  if (refused) return refused;
  let expired: Collecting | null = null;
  let record = current;
  if (record?.state === 'collecting' && timedOut(record, nowMs, limits.timeoutMs)) {
    expired = record;
    record = null;
  }
  // Published longer ago than the timeout: the phone reuses the reference for a new message.
  if (record?.state === 'published' && nowMs - record.publishedAtMs >= limits.timeoutMs) record = null;
  if (record?.state === 'published') return { kind: 'done' };
  if (record?.state === 'claimed') {
    if (nowMs - record.claimedAtMs < publishGraceMs) return { kind: 'busy' };
    return { kind: 'publish-again', record, body: joinBodies(record.bodies), dataCoding: record.dataCoding };
  }
  if (record && record.total !== part.total) return { kind: 'rejected', reason: 'bad-part' };
  const base: Collecting = record ?? {
    state: 'collecting', total: part.total, dataCoding: part.dataCoding, firstSeenMs: nowMs,
    bodies: new Array<Buffer | null>(part.total).fill(null),
  };
  // A retransmitted part is acknowledged again; the first copy stays.
  if (base.bodies[part.seq - 1]) return { kind: 'done' };
  const bodies = base.bodies.map((b, i) => (i === part.seq - 1 ? part.body : b));
  const bytes = bodies.reduce((n, b) => n + (b?.length ?? 0), 0);
  if (bytes > limits.bodyBytesMax) return { kind: 'rejected', reason: 'too-large' };
  if (bodies.some((b) => b === null)) return { kind: 'store', record: { ...base, bodies }, expired };
  const whole = bodies as Buffer[];
  return {
    kind: 'claim',
    record: {
      state: 'claimed', total: base.total, dataCoding: base.dataCoding, firstSeenMs: base.firstSeenMs, bodies: whole, eventId,
      claimedAtMs: nowMs,
    },
    body: joinBodies(whole),
    dataCoding: base.dataCoding,
    expired,
  };
}

/** What a claim becomes once its event is durable: no text left in the bucket. */
export function publishedFrom(claim: Claimed, nowMs: number): Published {
  return { state: 'published', firstSeenMs: claim.firstSeenMs, eventId: claim.eventId, publishedAtMs: nowMs };
}

/** Parts a record holds (for the count of parts lost to a timeout). */
export function partsHeld(record: Collecting): number {
  return record.bodies.filter((b) => b !== null).length;
}

// Concatenate bytes before decoding: a UCS-2 surrogate pair may straddle two parts.
function joinBodies(bodies: readonly Buffer[]): Buffer {
  return Buffer.concat(bodies);
}

/** Largest encoded record for `limits.bodyBytesMax` of body: base64 (4/3) plus the JSON around it. */
export function recordBytesMax(bodyBytesMax: number, partsMax: number): number {
  return Math.ceil(bodyBytesMax / 3) * 4 + partsMax * 8 + 512;
}

interface Wire {
  readonly v: 1;
  readonly s: StoredMessage['state'];
  readonly f: number;
  readonly t?: number;
  readonly dc?: number;
  readonly p?: (string | null)[];
  readonly e?: string;
  /** Claimed at, or published at. */
  readonly c?: number;
}

export function encodeStored(record: StoredMessage): Uint8Array {
  let wire: Wire;
  switch (record.state) {
    case 'collecting':
      wire = {
        v: 1, s: 'collecting', f: record.firstSeenMs, t: record.total, dc: record.dataCoding,
        p: record.bodies.map((b) => (b ? b.toString('base64') : null)),
      };
      break;
    case 'claimed':
      wire = {
        v: 1, s: 'claimed', f: record.firstSeenMs, t: record.total, dc: record.dataCoding,
        p: record.bodies.map((b) => b.toString('base64')), e: record.eventId, c: record.claimedAtMs,
      };
      break;
    case 'published':
      wire = { v: 1, s: 'published', f: record.firstSeenMs, e: record.eventId, c: record.publishedAtMs };
      break;
  }
  return new TextEncoder().encode(JSON.stringify(wire));
}

/** The record in `bytes`, or null when it is not one this release reads (then it is written over). */
export function decodeStored(bytes: Uint8Array): StoredMessage | null {
  let wire: Wire;
  try {
    wire = JSON.parse(Buffer.from(bytes).toString('utf8')) as Wire;
  } catch {
    return null;
  }
  if (wire?.v !== 1 || typeof wire.f !== 'number') return null;
  const bodies = Array.isArray(wire.p) ? wire.p.map((b) => (typeof b === 'string' ? Buffer.from(b, 'base64') : null)) : null;
  const shaped = typeof wire.t === 'number' && typeof wire.dc === 'number' && bodies !== null && bodies.length === wire.t;
  switch (wire.s) {
    case 'collecting':
      if (!shaped) return null;
      return { state: 'collecting', total: wire.t as number, dataCoding: wire.dc as number, firstSeenMs: wire.f, bodies };
    case 'claimed':
      if (!shaped || bodies.some((b) => b === null) || typeof wire.e !== 'string' || typeof wire.c !== 'number') return null;
      return {
        state: 'claimed', total: wire.t as number, dataCoding: wire.dc as number, firstSeenMs: wire.f, bodies: bodies as Buffer[],
        eventId: wire.e, claimedAtMs: wire.c,
      };
    case 'published':
      if (typeof wire.e !== 'string' || typeof wire.c !== 'number') return null;
      return { state: 'published', firstSeenMs: wire.f, eventId: wire.e, publishedAtMs: wire.c };
    default:
      return null;
  }
}

/**
 * The KV key of a message: operator, sender, destination, reference and total. KV keys allow
 * letters, digits and -_=./ only, '.' separating tokens: a value that is not plain letters, digits,
 * '-' or '_' is written base64url after '=' (which no plain value holds, so two never meet).
 */
export function reassemblyKey(operatorId: string, from: string, destination: string, reference: number, total: number): string {
  const token = (value: string) => (/^[A-Za-z0-9_-]{1,64}$/.test(value) ? value : `=${Buffer.from(value, 'utf8').toString('base64url')}`);
  return [token(operatorId), token(from), token(destination), String(reference), String(total)].join('.');
}
