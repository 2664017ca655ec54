// Many small writes as one: items wait at most lingerMs (or until itemsMax or
// bytesMax is reached), then go to write() together; each add() settles when
// its batch's write does. No I/O of its own: write() is injected.

export interface BatcherOptions<T> {
  /** How long the first item of a batch waits for company. */
  readonly lingerMs: number;
  readonly itemsMax: number;
  /** Sum of the sizes given to add(); a batch is written before it would pass this. */
  readonly bytesMax: number;
  readonly write: (items: readonly T[]) => Promise<void>;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

interface Pending<T> {
  readonly items: T[];
  readonly waiters: Waiter[];
  bytes: number;
  timer: NodeJS.Timeout | null;
}

export class Batcher<T> {
  readonly #o: BatcherOptions<T>;
  #pending: Pending<T> | null = null;
  readonly #writing = new Set<Promise<void>>();

  constructor(options: BatcherOptions<T>) {
    if (options.lingerMs < 0 || options.itemsMax < 1 || options.bytesMax < 1) {
      throw new RangeError('lingerMs must be >= 0, itemsMax and bytesMax positive');
    }
    this.#o = options;
  }

  /** Writes in flight now (a batch is one). */
  get writesInFlight(): number {
    return this.#writing.size;
  }

  /** Resolves once the batch holding this item is written; rejects with the write's error. */
  add(item: T, bytes: number): Promise<void> {
    if (this.#pending && this.#pending.bytes + bytes > this.#o.bytesMax) this.#flush();
    const pending = (this.#pending ??= { items: [], waiters: [], bytes: 0, timer: null });
    pending.items.push(item);
    pending.bytes += bytes;
    const settled = new Promise<void>((resolve, reject) => pending.waiters.push({ resolve, reject }));
    if (pending.items.length >= this.#o.itemsMax || pending.bytes >= this.#o.bytesMax) this.#flush();
    else if (pending.timer === null) pending.timer = setTimeout(() => this.#flush(), this.#o.lingerMs);
    return settled;
  }

  /** Writes what waits now and resolves once every write in flight has settled. */
  async flush(): Promise<void> {
    this.#flush();
    await Promise.allSettled([...this.#writing]);
  }

  #flush(): void {
    const batch = this.#pending;
    if (!batch) return;
    this.#pending = null;
    if (batch.timer !== null) clearTimeout(batch.timer);
    const written = Promise.resolve()
      .then(() => this.#o.write(batch.items))
      .then(
        () => batch.waiters.forEach((w) => w.resolve()),
        (err: unknown) => batch.waiters.forEach((w) => w.reject(err)),
      )
      .finally(() => this.#writing.delete(written));
    this.#writing.add(written);
  }
}
