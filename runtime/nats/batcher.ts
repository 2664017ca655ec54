// Groups what a consumer took that arrived together, so one run (one
// transaction, one commit) handles it. A group goes when it is full, when
// nothing else is coming (the caller says so: the stream had nothing more
// pending, or the pull asked for no more), or lingerMs after its first item,
// whichever comes first: a lone message never waits longer than lingerMs.
// Several groups may be running at once; the caller bounds the items.

interface Waiting<T, R> {
  readonly item: T;
  readonly resolve: (result: R) => void;
}

export class Batcher<T, R> {
  readonly #sizeMax: number;
  readonly #lingerMs: number;
  /** Must resolve with one result per item, in order, and never reject. */
  readonly #run: (items: T[]) => Promise<R[]>;
  #group: Waiting<T, R>[] = [];
  #timer: NodeJS.Timeout | null = null;

  constructor(sizeMax: number, lingerMs: number, run: (items: T[]) => Promise<R[]>) {
    if (!Number.isInteger(sizeMax) || sizeMax < 1) throw new RangeError('batch sizeMax must be a whole number of at least 1');
    if (!(lingerMs >= 0)) throw new RangeError('batch lingerMs must be at least 0');
    this.#sizeMax = sizeMax;
    this.#lingerMs = lingerMs;
    this.#run = run;
  }

  /** Adds an item to the open group; `last`: nothing else is coming now, so the group goes at once. */
  submit(item: T, last: boolean): Promise<R> {
    const result = new Promise<R>((resolve) => this.#group.push({ item, resolve }));
    if (last || this.#group.length >= this.#sizeMax) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.#lingerMs);
    return result;
  }

  /** Sends the open group now (the pull ended, or the consumer stops). */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#group.length === 0) return;
    const group = this.#group;
    this.#group = [];
    void this.#run(group.map((w) => w.item)).then((results) => {
      group.forEach((w, i) => w.resolve(results[i] as R));
    });
  }
}
