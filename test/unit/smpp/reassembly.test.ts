// The pure part of long-message reassembly: what a part does to the shared record, when the
// message is whole (and who may publish it), the bounds, the timeout, the record's encoding and key.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeText } from '../../../gateway/smpp/codec/text-codec.js';
import {
  REASSEMBLY_BODY_BYTES_MAX, decide, decodeStored, encodeStored, publishedFrom, reassemblyKey, recordBytesMax, timedOut,
  type Decision, type InboundPart, type StoredMessage,
} from '../../../gateway/smpp/reassembly.js';
import { KV_BUCKETS, SMS_PARTS_BUCKET, reassemblyBucketTtlMs, withReassemblyTimeouts } from '../../../runtime/nats/topology.js';
import { TOPOLOGY } from '../../../cli/components.js';

const limits = { partsMax: 4, bodyBytesMax: 64, timeoutMs: 1_000 };
const GRACE_MS = 200;
const part = (total: number, seq: number, hex: string): InboundPart => ({ total, seq, dataCoding: 8, body: Buffer.from(hex, 'hex') });

/** Applies parts in order as one writer would: each decision's record becomes the stored one. */
function run(parts: readonly InboundPart[], startMs = 0): { record: StoredMessage | null; decisions: Decision[] } {
  let record: StoredMessage | null = null;
  const decisions: Decision[] = [];
  parts.forEach((p, i) => {
    const d = decide(record, p, startMs + i, limits, `ev-${i}`, GRACE_MS);
    decisions.push(d);
    if (d.kind === 'store' || d.kind === 'claim') record = d.record;
  });
  return { record, decisions };
}

describe('decide', () => {
  it('stores parts until the last, which claims the message; bytes joined before decoding (a surrogate pair split across parts)', () => {
    // 😀 = D83D DE00: the high surrogate ends part 1, the low one starts part 2.
    const { decisions } = run([part(2, 2, 'de000041'), part(2, 1, '0041d83d')]);
    expect(decisions.map((d) => d.kind)).toEqual(['store', 'claim']);
    const claim = decisions[1]!;
    if (claim.kind !== 'claim') throw new Error('not a claim');
    expect(decodeText(claim.body, claim.dataCoding)).toBe('A😀A');
    expect(claim.record).toMatchObject({ state: 'claimed', eventId: 'ev-1', firstSeenMs: 0, claimedAtMs: 1 });
  });

  it('acknowledges a retransmitted part without writing, and keeps the first copy', () => {
    const { record, decisions } = run([part(3, 1, '0041'), part(3, 1, '0058'), part(3, 2, '0042'), part(3, 3, '0043')]);
    expect(decisions.map((d) => d.kind)).toEqual(['store', 'done', 'store', 'claim']);
    const last = decisions[3]!;
    expect(last.kind === 'claim' && decodeText(last.body, 8)).toBe('ABC');
    expect(record?.state).toBe('claimed');
  });

  it('the last two parts decided on the same record: whichever write loses decides again and is the one that claims', () => {
    const first = run([part(3, 1, '0041')]).record;
    const a = decide(first, part(3, 2, '0042'), 10, limits, 'ev-a', GRACE_MS);
    const b = decide(first, part(3, 3, '0043'), 10, limits, 'ev-b', GRACE_MS);
    // Both would store (neither saw the other's part): the revision check lets only one write; say a's.
    expect([a.kind, b.kind]).toEqual(['store', 'store']);
    if (a.kind !== 'store') throw new Error('not stored');
    const again = decide(a.record, part(3, 3, '0043'), 11, limits, 'ev-b', GRACE_MS);
    expect(again.kind === 'claim' && decodeText(again.body, 8)).toBe('ABC');
  });

  it('a claimed message: busy while its publisher works, published again under the same id after the grace, done once published', () => {
    const { record } = run([part(2, 1, '0041'), part(2, 2, '0042')]);
    if (record?.state !== 'claimed') throw new Error('not claimed');
    expect(decide(record, part(2, 2, '0042'), record.claimedAtMs + GRACE_MS - 1, limits, 'other', GRACE_MS)).toEqual({ kind: 'busy' });
    const again = decide(record, part(2, 1, '0041'), record.claimedAtMs + GRACE_MS, limits, 'other', GRACE_MS);
    expect(again.kind).toBe('publish-again');
    expect(again.kind === 'publish-again' && [again.record.eventId, decodeText(again.body, 8)]).toEqual(['ev-1', 'AB']);
    const published = publishedFrom(record, 50);
    expect(decide(published, part(2, 2, '0042'), 60, limits, 'other', GRACE_MS)).toEqual({ kind: 'done' });
    // Long after: the phone reuses the reference for a new message.
    expect(decide(published, part(2, 1, '0045'), 50 + limits.timeoutMs, limits, 'new', GRACE_MS).kind).toBe('store');
  });

  it('times out from the first part: a late part starts over and hands back the expired record to be reported', () => {
    const { record } = run([part(3, 1, '0041'), part(3, 2, '0042')], 100);
    if (!record) throw new Error('nothing stored');
    expect(timedOut(record, 100 + limits.timeoutMs - 1, limits.timeoutMs)).toBe(false);
    expect(timedOut(record, 100 + limits.timeoutMs, limits.timeoutMs)).toBe(true);
    const late = decide(record, part(3, 3, '0043'), 100 + limits.timeoutMs, limits, 'x', GRACE_MS);
    expect(late.kind).toBe('store');
    if (late.kind !== 'store') throw new Error('not stored');
    expect(late.expired).toBe(record);
    expect(late.record.firstSeenMs).toBe(100 + limits.timeoutMs);
    expect(late.record.bodies.filter((b) => b !== null)).toHaveLength(1);
    // Claimed and published records are not timed out by the gateway.
    expect(timedOut(publishedFrom({ state: 'claimed', total: 1, dataCoding: 0, firstSeenMs: 0, bodies: [Buffer.alloc(1)], eventId: 'e', claimedAtMs: 0 }, 0), 10_000, 1)).toBe(false);
  });

  it('is bounded: total, numbering, bytes', () => {
    expect(decide(null, part(5, 1, '00'), 0, limits, 'e', GRACE_MS)).toEqual({ kind: 'rejected', reason: 'too-many-parts' });
    expect(decide(null, part(2, 3, '00'), 0, limits, 'e', GRACE_MS)).toEqual({ kind: 'rejected', reason: 'bad-part' });
    expect(decide(null, { ...part(2, 1, '00'), total: Number.NaN }, 0, limits, 'e', GRACE_MS)).toEqual({ kind: 'rejected', reason: 'bad-part' });
    expect(decide(null, { ...part(2, 1, '00'), seq: 0 }, 0, limits, 'e', GRACE_MS)).toEqual({ kind: 'rejected', reason: 'bad-part' });
    expect(decide(null, part(2, 1, '00'.repeat(65)), 0, limits, 'e', GRACE_MS)).toEqual({ kind: 'rejected', reason: 'too-large' });
    const { record } = run([part(2, 1, '00'.repeat(40))]);
    expect(decide(record, part(2, 2, '00'.repeat(30)), 1, limits, 'e', GRACE_MS)).toEqual({ kind: 'rejected', reason: 'too-large' });
    expect(decide(record, part(2, 2, '00'.repeat(24)), 1, limits, 'e', GRACE_MS).kind).toBe('claim');
  });

  it('any arrival order of any parts, with repeats, gives one claim and the whole message (property)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 2, max: 4 }).chain((total) => fc.tuple(
        fc.constant(total),
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 12 }), { minLength: total, maxLength: total }),
        fc.array(fc.integer({ min: 1, max: total }), { maxLength: 8 }),
      )),
      ([total, bodies, repeats]) => {
        const order = [...repeats, ...Array.from({ length: total }, (_, i) => total - i)];
        const { decisions } = run(order.map((seq) => ({ total, seq, dataCoding: 4, body: Buffer.from(bodies[seq - 1]!) })));
        const claims = decisions.filter((d) => d.kind === 'claim');
        expect(claims).toHaveLength(1);
        expect(claims[0]!.kind === 'claim' && claims[0]!.body).toEqual(Buffer.concat(bodies.map((b) => Buffer.from(b))));
      },
    ), { numRuns: 200 });
  });
});

describe('stored record', () => {
  it('round-trips every state; what it cannot read is null (written over)', () => {
    const { record: collecting } = run([part(3, 2, '0041')]);
    const claimed = run([part(2, 1, '0041'), part(2, 2, '0042')]).record;
    if (collecting?.state !== 'collecting' || claimed?.state !== 'claimed') throw new Error('states');
    for (const r of [collecting, claimed, publishedFrom(claimed, 9)]) expect(decodeStored(encodeStored(r))).toEqual(r);
    for (const junk of ['', 'null', '{"v":2,"s":"collecting","f":0}', '{"v":1,"s":"collecting","f":0,"t":2,"dc":0,"p":[null]}', '{"v":1,"s":"claimed","f":0,"t":1,"dc":0,"p":[null],"e":"x","c":0}']) {
      expect(decodeStored(new TextEncoder().encode(junk))).toBeNull();
    }
  });

  it('a published record keeps no text', () => {
    const claimed = run([part(2, 1, '0041'), part(2, 2, '0042')]).record;
    if (claimed?.state !== 'claimed') throw new Error('not claimed');
    const bytes = Buffer.from(encodeStored(publishedFrom(claimed, 1))).toString('utf8');
    expect(bytes).not.toContain(Buffer.from('0041', 'hex').toString('base64'));
    expect(JSON.parse(bytes)).not.toHaveProperty('p');
  });

  it('the largest message the bounds allow fits the bucket\'s value size', () => {
    const bucket = KV_BUCKETS.find((b) => b.bucket === SMS_PARTS_BUCKET)!;
    expect(recordBytesMax(REASSEMBLY_BODY_BYTES_MAX, 255)).toBeLessThanOrEqual(bucket.valueBytesMax);
    // 255 parts of 144 bytes each (the most the bound lets in), as the stored record: within recordBytesMax.
    const big = { ...limits, partsMax: 255, bodyBytesMax: REASSEMBLY_BODY_BYTES_MAX };
    let record: StoredMessage | null = null;
    for (let seq = 1; seq <= 255; seq++) {
      const d = decide(record, { total: 255, seq, dataCoding: 8, body: Buffer.alloc(144, seq) }, seq, big, 'e', GRACE_MS);
      if (d.kind !== 'store' && d.kind !== 'claim') throw new Error(`part ${seq}: ${d.kind}`);
      record = d.record;
    }
    expect(encodeStored(record!).length).toBeLessThanOrEqual(recordBytesMax(REASSEMBLY_BODY_BYTES_MAX, 255));
  });
});

describe('key and bucket', () => {
  it('keys follow the KV rules and keep distinct messages apart', () => {
    const keys = [
      reassemblyKey('safaricom-ke', '254711000001', '384', 7, 2),
      reassemblyKey('safaricom-ke', '254711000001', '384', 7, 3),
      reassemblyKey('safaricom-ke', '254711000001', '20384', 7, 2),
      reassemblyKey('orange-sn', '254711000001', '384', 7, 2),
      reassemblyKey('safaricom-ke', '254711000002', '384', 7, 2),
      reassemblyKey('safaricom-ke', '254711000001', 'SHOP.42 x', 7, 2),
      reassemblyKey('safaricom-ke', '254711000001', '', 7, 2),
      reassemblyKey('safaricom-ke', '254711000001', '=', 7, 2),
    ];
    expect(new Set(keys).size).toBe(keys.length);
    for (const k of keys) expect(k).toMatch(/^[-\w=]+(\.[-\w=]+)*$/);
    expect(keys[0]).toBe('safaricom-ke.254711000001.384.7.2');
  });

  it('the bucket outlives every operator\'s timeout: twice the longest', () => {
    expect(reassemblyBucketTtlMs([5_000, 60_000])).toBe(120_000);
    expect(reassemblyBucketTtlMs([])).toBe(20_000);
    const configured = withReassemblyTimeouts(TOPOLOGY, [30_000]);
    expect(configured.kvBuckets.find((b) => b.bucket === SMS_PARTS_BUCKET)?.ttlMs).toBe(60_000);
    expect(configured.kvBuckets.find((b) => b.bucket === 'ussd_sessions')).toEqual(TOPOLOGY.kvBuckets.find((b) => b.bucket === 'ussd_sessions'));
  });
});
