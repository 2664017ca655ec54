// Work over many items with a cap on how many run at once, each outcome kept
// (fulfilled or rejected) in the items' order: a batch's carrier calls, a
// failed batch's units run alone.

/** fn over the items, at most limit at once; each outcome settled, in the items' order. */
export async function settleBounded<T, R>(
  items: readonly T[], limit: number, fn: (item: T) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
  const outcomes = new Array<PromiseSettledResult<R>>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) {
      try {
        outcomes[i] = { status: 'fulfilled', value: await fn(items[i] as T) };
      } catch (reason) {
        outcomes[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return outcomes;
}
