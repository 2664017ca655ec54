// Many writes as one: by time, by count, by size; every add settles with its batch's write.
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { Batcher } from '../../../gateway/smpp/batcher.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

function recording(fail: (batch: readonly number[]) => boolean = () => false) {
  const batches: number[][] = [];
  const write = async (items: readonly number[]) => {
    batches.push([...items]);
    if (fail(items)) throw new Error('stream down');
  };
  return { batches, write };
}

it('writes what arrived within lingerMs as one batch, and settles each add after it', async () => {
  const { batches, write } = recording();
  const batcher = new Batcher<number>({ lingerMs: 5, itemsMax: 100, bytesMax: 10_000, write });
  const settled: number[] = [];
  const adds = [1, 2, 3].map((n) => batcher.add(n, 10).then(() => settled.push(n)));
  await vi.advanceTimersByTimeAsync(4);
  expect(batches).toEqual([]);
  expect(settled).toEqual([]);
  await vi.advanceTimersByTimeAsync(1);
  await Promise.all(adds);
  expect(batches).toEqual([[1, 2, 3]]);
  expect(settled).toEqual([1, 2, 3]);
  // The next add starts a new batch.
  const later = batcher.add(4, 10);
  await vi.advanceTimersByTimeAsync(5);
  await later;
  expect(batches).toEqual([[1, 2, 3], [4]]);
});

it('writes at once when itemsMax is reached, without waiting for the linger', async () => {
  const { batches, write } = recording();
  const batcher = new Batcher<number>({ lingerMs: 1_000, itemsMax: 2, bytesMax: 10_000, write });
  const adds = [batcher.add(1, 1), batcher.add(2, 1), batcher.add(3, 1)];
  await Promise.all(adds.slice(0, 2));
  expect(batches).toEqual([[1, 2]]);
  await vi.advanceTimersByTimeAsync(1_000);
  await adds[2];
  expect(batches).toEqual([[1, 2], [3]]);
});

it('never lets a batch pass bytesMax: an item that would not fit starts the next batch', async () => {
  const { batches, write } = recording();
  const batcher = new Batcher<number>({ lingerMs: 5, itemsMax: 100, bytesMax: 100, write });
  const adds = [batcher.add(1, 60), batcher.add(2, 60), batcher.add(3, 40)];
  await vi.advanceTimersByTimeAsync(5);
  await Promise.all(adds);
  // 60 + 60 > 100: 1 went alone; 2 and 3 make exactly 100, written without waiting.
  expect(batches).toEqual([[1], [2, 3]]);
});

it('rejects every add of a batch whose write failed, and only those', async () => {
  const { batches, write } = recording((items) => items.includes(2));
  const batcher = new Batcher<number>({ lingerMs: 5, itemsMax: 2, bytesMax: 10_000, write });
  const failed = [batcher.add(1, 1), batcher.add(2, 1)].map((p) => p.then(() => 'ok', (e: Error) => e.message));
  const ok = batcher.add(3, 1);
  await vi.advanceTimersByTimeAsync(5);
  expect(await Promise.all(failed)).toEqual(['stream down', 'stream down']);
  await expect(ok).resolves.toBeUndefined();
  expect(batches).toEqual([[1, 2], [3]]);
});

it('flush() writes what waits and returns once every write has settled', async () => {
  const { batches, write } = recording();
  const batcher = new Batcher<number>({ lingerMs: 60_000, itemsMax: 100, bytesMax: 10_000, write });
  const add = batcher.add(7, 1);
  await batcher.flush();
  await add;
  expect(batches).toEqual([[7]]);
  expect(batcher.writesInFlight).toBe(0);
});
