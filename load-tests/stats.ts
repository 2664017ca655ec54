// Small helpers for benchmarks: medians over runs, rates, and CPU and memory
// of the processes under test over the measured windows only.
import { ProcessWatch, type ProcessUsage } from './harness/processes.js';

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function rate(count: number, ms: number): number {
  return Math.round((count / ms) * 1000);
}

type ProcessGroups = Iterable<readonly [string, () => readonly number[]]>;

/**
 * ProcessWatch over the measured windows only (one per run), summed: a
 * group's CPU seconds add up over its windows, its CPU % is over their total
 * length, and its peak memory is the highest seen. Set-up between runs
 * (seeding, starting a process, warm-up) is left out.
 */
export class WindowedWatch {
  readonly #totals = new Map<string, { cpuSeconds: number; windowSeconds: number; peakRssMiB: number }>();

  /** Starts watching the groups; call the returned function when the measured window ends. */
  begin(groups: ProcessGroups): () => void {
    const watch = new ProcessWatch();
    for (const [name, pids] of groups) watch.add(name, pids);
    const startedMs = performance.now();
    watch.start();
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      const usage = watch.stop();
      const windowSeconds = (performance.now() - startedMs) / 1_000;
      for (const u of usage) this.add(u.name, u.cpuSeconds, windowSeconds, u.peakRssMiB);
    };
  }

  /** A window measured another way, e.g. a child's own process.resourceUsage() at its exit. */
  add(name: string, cpuSeconds: number, windowSeconds: number, peakRssMiB: number): void {
    const total = this.#totals.get(name) ?? { cpuSeconds: 0, windowSeconds: 0, peakRssMiB: 0 };
    this.#totals.set(name, { cpuSeconds: total.cpuSeconds + cpuSeconds, windowSeconds: total.windowSeconds + windowSeconds,
      peakRssMiB: Math.max(total.peakRssMiB, peakRssMiB) });
  }

  async measure<T>(groups: ProcessGroups, work: () => Promise<T>): Promise<T> {
    const end = this.begin(groups);
    try {
      return await work();
    } finally {
      end();
    }
  }

  usage(): ProcessUsage[] {
    return [...this.#totals].map(([name, t]) => ({
      name,
      cpuSeconds: Math.round(t.cpuSeconds * 10) / 10,
      cpuPercent: t.windowSeconds > 0 ? Math.round((t.cpuSeconds / t.windowSeconds) * 100) : 0,
      peakRssMiB: t.peakRssMiB,
    }));
  }
}

export { pidOf, treeOf } from './harness/processes.js';

/** "1 run", "3 runs". */
export function plural(n: number, word: string): string {
  return `${n.toLocaleString('en')} ${word}${n === 1 ? '' : 's'}`;
}
