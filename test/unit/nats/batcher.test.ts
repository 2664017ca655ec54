// The batcher alone: a group goes when full, when the caller says nothing else is coming, or
// lingerMs after its first item; each item gets its own result; groups may overlap.
import { describe, expect, it } from 'vitest';
import { Batcher } from '../../../runtime/nats/batcher.js';

function recording(delayMs = 0) {
  const groups: number[][] = [];
  const batcher = (sizeMax: number, lingerMs: number) =>
    new Batcher<number, string>(sizeMax, lingerMs, async (items) => {
      groups.push(items);
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      return items.map((i) => `done ${i}`);
    });
  return { groups, batcher };
}

describe('Batcher', () => {
  it('sends a full group at once and answers each item with its own result', async () => {
    const { groups, batcher } = recording();
    const b = batcher(3, 60_000);
    const results = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => b.submit(i, false)));
    expect(groups).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(results).toEqual([1, 2, 3, 4, 5, 6].map((i) => `done ${i}`));
  });

  it('sends the open group when nothing else is coming, without waiting for the linger', async () => {
    const { groups, batcher } = recording();
    const b = batcher(64, 60_000);
    const started = performance.now();
    await Promise.all([b.submit(1, false), b.submit(2, true)]);
    expect(groups).toEqual([[1, 2]]);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('sends a group lingerMs after its first item when it neither fills nor hears the end', async () => {
    const { groups, batcher } = recording();
    const b = batcher(64, 30);
    const started = performance.now();
    const pending = [b.submit(1, false), b.submit(2, false)];
    await new Promise((r) => setTimeout(r, 5));
    expect(groups).toEqual([]);
    await Promise.all(pending);
    expect(groups).toEqual([[1, 2]]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('starts the next group while the last one still runs', async () => {
    const { groups, batcher } = recording(50);
    const b = batcher(2, 60_000);
    const first = Promise.all([b.submit(1, false), b.submit(2, false)]);
    const second = Promise.all([b.submit(3, false), b.submit(4, false)]);
    expect(groups).toEqual([[1, 2], [3, 4]]); // both running before either finished
    await Promise.all([first, second]);
  });

  it('with runsInFlightMax 1, what arrives while a group runs waits and goes as one bigger group', async () => {
    const groups: number[][] = [];
    let release: (() => void) | null = null;
    const b = new Batcher<number, string>(64, 0, async (items) => {
      groups.push(items);
      if (groups.length === 1) await new Promise<void>((r) => (release = r));
      return items.map((i) => `done ${i}`);
    }, 1);
    const first = b.submit(1, true);
    const rest = [2, 3, 4].map((i) => b.submit(i, true)); // each says nothing else is coming: ready at once, but the one run is busy
    expect(groups).toEqual([[1]]);
    expect(b.runsInFlight).toBe(1);
    (release as unknown as () => void)();
    expect(await Promise.all([first, ...rest])).toEqual([1, 2, 3, 4].map((i) => `done ${i}`));
    expect(groups).toEqual([[1], [2, 3, 4]]);
  });

  it('waiting groups join only up to sizeMax', async () => {
    const groups: number[][] = [];
    let release: (() => void) | null = null;
    const b = new Batcher<number, string>(2, 0, async (items) => {
      groups.push(items);
      if (groups.length === 1) await new Promise<void>((r) => (release = r));
      return items.map(String);
    }, 1);
    const all = [1, 2, 3, 4, 5].map((i) => b.submit(i, true));
    (release as unknown as () => void)();
    await Promise.all(all);
    expect(groups).toEqual([[1], [2, 3], [4, 5]]);
  });

  it('refuses a size below 1 and a negative linger', () => {
    expect(() => recording().batcher(0, 2)).toThrow(RangeError);
    expect(() => recording().batcher(4, -1)).toThrow(RangeError);
    expect(() => new Batcher<number, string>(4, 2, async (items) => items.map(String), 0)).toThrow(RangeError);
  });
});
