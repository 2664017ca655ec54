// Groups what a consumer took that arrived together, so one run (one
// transaction, one commit) handles it. A group is ready when it is full, when
// nothing else is coming (the caller says so: the stream had nothing more
// pending, or the pull asked for no more), or lingerMs after its first item.
// At most runsInFlightMax groups run at once: while they do, what arrives
// waits and joins one bigger group, so batches grow with the load (fewer
// commits) and a lone message on a quiet consumer still goes at once.

interface Waiting<T, R> {
  readonly item: T;
  readonly resolve: (result: R) => void;
}

export class Batcher<T, R> {
  readonly #sizeMax: number;
  readonly #lingerMs: number;
  readonly #runsInFlightMax: number;
  /** Must resolve with one result per item, in order, and never reject. */
  readonly #run: (items: T[]) => Promise<R[]>;
  #group: Waiting<T, R>[] = [];
  /** Groups that are ready but wait for a run to end (each at most sizeMax items). */
  readonly #ready: Waiting<T, R>[][] = [];
  #runsInFlight = 0;
  #timer: NodeJS.Timeout | null = null;

  constructor(sizeMax: number, lingerMs: number, run: (items: T[]) => Promise<R[]>, runsInFlightMax = Number.POSITIVE_INFINITY) {
    if (!Number.isInteger(sizeMax) || sizeMax < 1) throw new RangeError('batch sizeMax must be a whole number of at least 1');
    if (!(lingerMs >= 0)) throw new RangeError('batch lingerMs must be at least 0');
    if (!(runsInFlightMax >= 1)) throw new RangeError('batch runsInFlightMax must be at least 1');
    this.#sizeMax = sizeMax;
    this.#lingerMs = lingerMs;
    this.#runsInFlightMax = runsInFlightMax;
    this.#run = run;
  }

  /** Groups running now. */
  get runsInFlight(): number {
    return this.#runsInFlight;
  }

  /** Adds an item to the open group; `last`: nothing else is coming now, so the group is ready at once. */
  submit(item: T, last: boolean): Promise<R> {
    const result = new Promise<R>((resolve) => this.#group.push({ item, resolve }));
    if (last || this.#group.length >= this.#sizeMax) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.#lingerMs);
    return result;
  }

  /** Makes the open group ready now (the pull ended, or the consumer stops) and runs what may run. */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#group.length > 0) {
      this.#ready.push(this.#group);
      this.#group = [];
    }
    this.#pump();
  }

  #pump(): void {
    while (this.#runsInFlight < this.#runsInFlightMax && this.#ready.length > 0) {
      // Ready groups that wait together go as one, up to sizeMax: that is how batches grow under load.
      const group = this.#ready.shift() as Waiting<T, R>[];
      while (this.#ready.length > 0 && group.length + (this.#ready[0] as Waiting<T, R>[]).length <= this.#sizeMax) {
        group.push(...(this.#ready.shift() as Waiting<T, R>[]));
      }
      this.#runsInFlight++;
      void this.#run(group.map((w) => w.item)).then((results) => {
        group.forEach((w, i) => w.resolve(results[i] as R));
      }).finally(() => {
        this.#runsInFlight--;
        this.#pump();
      });
    }
  }
}
