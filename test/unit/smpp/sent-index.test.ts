// The gateway's memory of what every replica sent: found by message and by SMSC id, bounded in age and in number.
import { expect, it } from 'vitest';
import { SentIndex } from '../../../gateway/smpp/sent-index.js';

const rec = (messageRef: string, operatorId = 'op', smscIds = [`${messageRef}-id`]) => ({ messageRef, operatorId, smscIds });

it('finds a record by its message and by each SMSC id of its operator', () => {
  const index = new SentIndex(10, 60_000, () => 1_000_000);
  expect(index.add(rec('m1', 'safaricom-ke', ['A1', 'A2']), 1_000_000)).toBe(true);
  expect(index.smscIdsOf('m1')).toEqual(['A1', 'A2']);
  expect(index.messageRefOf('safaricom-ke', 'A2')).toBe('m1');
  expect(index.messageRefOf('orange-sn', 'A2')).toBeNull(); // another operator's id space
  expect(index.smscIdsOf('m2')).toBeNull();
  // Kept once: the same record heard live, read back, written again.
  expect(index.add(rec('m1', 'safaricom-ke', ['A1', 'A2']), 1_000_100)).toBe(false);
  expect(index.size).toBe(1);
});

it('keeps a record for the age (rounded up to a twelfth of it), then forgets it', () => {
  let now = 1_200_000;
  const index = new SentIndex(10, 120_000, () => now); // slots of 10 s
  index.add(rec('m1'), now);
  now += 119_999;
  expect(index.smscIdsOf('m1')).not.toBeNull();
  now += 10_001;
  expect(index.smscIdsOf('m1')).toBeNull();
  expect(index.messageRefOf('op', 'm1-id')).toBeNull();
  expect(index.size).toBe(0);
});

it('refuses a record already older than the age (a replayed batch from long ago)', () => {
  const now = 10_000_000;
  const index = new SentIndex(10, 60_000, () => now);
  expect(index.add(rec('old'), now - 60_000)).toBe(false);
  expect(index.add(rec('recent'), now - 59_000)).toBe(true);
  expect(index.size).toBe(1);
});

it('keeps at most recordsMax, dropping the oldest by batch time even when added out of order', () => {
  const now = 10_000_000;
  const index = new SentIndex(3, 120_000, () => now);
  index.add(rec('newest'), now - 1_000);
  index.add(rec('older'), now - 50_000); // read back from the stream after the live one
  index.add(rec('middle'), now - 20_000);
  index.add(rec('new'), now - 2_000);
  expect(index.size).toBe(3);
  expect(index.smscIdsOf('older')).toBeNull();
  expect(index.messageRefOf('op', 'older-id')).toBeNull();
  for (const m of ['newest', 'middle', 'new']) expect(index.smscIdsOf(m), m).not.toBeNull();
});

it('skips empty SMSC ids (server mode: deliver_sm_resp carries none) but keeps the record', () => {
  const index = new SentIndex(10, 60_000, () => 0);
  index.add(rec('srv', 'orange-sn', ['']), 0);
  expect(index.smscIdsOf('srv')).toEqual(['']);
  expect(index.messageRefOf('orange-sn', '')).toBeNull();
});

it('refuses limits that would keep nothing', () => {
  expect(() => new SentIndex(0, 60_000)).toThrow(RangeError);
  expect(() => new SentIndex(10, 0)).toThrow(RangeError);
});
