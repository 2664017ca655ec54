// The gateway's memory of SmsOutbound events it submitted whole: bounded in time and in number.
import { expect, it } from 'vitest';
import { SubmittedIds } from '../../../gateway/smpp/outbound.js';

it('remembers an event with its SMSC ids until the TTL has passed', () => {
  let now = 1_000;
  const ids = new SubmittedIds(10, 5_000, () => now);
  ids.remember('e1', ['A1', 'A2']);
  expect(ids.get('e1')).toEqual(['A1', 'A2']);
  expect(ids.get('e2')).toBeNull();
  now += 4_999;
  expect(ids.get('e1')).toEqual(['A1', 'A2']);
  now += 1;
  expect(ids.get('e1')).toBeNull();
  expect(ids.size).toBe(0);
});

it('keeps at most submittedIdsMax, dropping the oldest first, and drops expired ones as it goes', () => {
  let now = 0;
  const ids = new SubmittedIds(3, 1_000, () => now);
  for (const id of ['e1', 'e2', 'e3', 'e4']) {
    ids.remember(id, [id.toUpperCase()]);
    now += 100;
  }
  expect(ids.size).toBe(3);
  expect(ids.get('e1')).toBeNull();
  expect(ids.get('e4')).toEqual(['E4']);
  // Remembered again: newest, so not the next to go.
  ids.remember('e2', ['E2']);
  ids.remember('e5', ['E5']);
  expect(ids.get('e2')).toEqual(['E2']);
  expect(ids.get('e3')).toBeNull();
  now += 1_000;
  ids.remember('e6', ['E6']);
  expect(ids.size).toBe(1);
});

it('refuses limits that would remember nothing', () => {
  expect(() => new SubmittedIds(0, 1_000)).toThrow(RangeError);
  expect(() => new SubmittedIds(10, 0)).toThrow(RangeError);
});
