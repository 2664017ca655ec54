// CPU time and peak memory of the processes under test, read from /proc, so a
// result says where the machine's two cores went: gateway, payments, billing,
// nats-server, PostgreSQL (the postmaster and every backend) and the load
// generator itself.
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessUsage {
  readonly name: string;
  /** CPU seconds (user + system) spent during the measured window. */
  readonly cpuSeconds: number;
  /** cpuSeconds over the window's length: 100 means one whole core. */
  readonly cpuPercent: number;
  /** Highest resident memory seen (VmHWM of each process, summed over a group's processes). */
  readonly peakRssMiB: number;
}

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux
const SAMPLE_INTERVAL_MS = 500;

interface PidStat {
  readonly ppid: number;
  readonly cpuTicks: number;
}

function readStat(pid: number): PidStat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses; the fields after its last ')' are fixed.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), cpuTicks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return null;
  }
}

function readPeakRssKiB(pid: number): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** A process and all its descendants (PostgreSQL forks a backend per connection). */
export function processTree(rootPid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (stat) parents.set(pid, stat.ppid);
  }
  const tree = [rootPid];
  for (let i = 0; i < tree.length; i++) {
    for (const [pid, ppid] of parents) if (ppid === tree[i]) tree.push(pid);
  }
  return tree;
}

/** One pid, or none while it is not running. */
export function pidOf(pid: number | null | undefined): number[] {
  return pid === null || pid === undefined ? [] : [pid];
}

/** A process and its descendants (PostgreSQL's backends), or none while it is not running. */
export function treeOf(pid: number | null): number[] {
  return pid === null ? [] : processTree(pid);
}

/**
 * Samples named groups of processes twice a second. A group's pids are asked
 * for at every sample, so a restarted component or a new backend is followed.
 */
export class ProcessWatch {
  readonly #groups = new Map<string, () => readonly number[]>();
  // Per group and pid: CPU ticks when first seen in the window, and the latest reading.
  readonly #cpu = new Map<string, Map<number, { first: number; last: number }>>();
  readonly #peakRssKiB = new Map<string, number>();
  #timer: NodeJS.Timeout | null = null;
  #startedAtMs = 0;
  #stoppedAtMs = 0;

  add(name: string, pids: () => readonly number[]): this {
    this.#groups.set(name, pids);
    return this;
  }

  start(): void {
    this.#startedAtMs = performance.now();
    this.#sample(true);
    this.#timer = setInterval(() => this.#sample(false), SAMPLE_INTERVAL_MS);
    this.#timer.unref();
  }

  /**
   * CPU seconds of each group since start(), read now (not at the last sample): the
   * difference of two marks is the CPU a phase took.
   */
  mark(): Map<string, number> {
    this.#sample(false);
    return new Map([...this.#groups.keys()].map((name) => [name, this.#cpuSeconds(name)]));
  }

  stop(): ProcessUsage[] {
    this.#sample(false);
    if (this.#timer) clearInterval(this.#timer);
    this.#stoppedAtMs = performance.now();
    const windowSeconds = (this.#stoppedAtMs - this.#startedAtMs) / 1_000;
    return [...this.#groups.keys()].map((name) => {
      const cpuSeconds = this.#cpuSeconds(name);
      return {
        name,
        cpuSeconds: Math.round(cpuSeconds * 10) / 10,
        cpuPercent: windowSeconds > 0 ? Math.round((cpuSeconds / windowSeconds) * 100) : 0,
        peakRssMiB: Math.round((this.#peakRssKiB.get(name) ?? 0) / 1024),
      };
    });
  }

  #cpuSeconds(name: string): number {
    let ticks = 0;
    for (const { first, last } of this.#cpu.get(name)?.values() ?? []) ticks += last - first;
    return ticks / CLOCK_TICKS_PER_SECOND;
  }

  #sample(atStart: boolean): void {
    for (const [name, pids] of this.#groups) {
      const cpu = this.#cpu.get(name) ?? new Map<number, { first: number; last: number }>();
      this.#cpu.set(name, cpu);
      let rssKiB = 0;
      for (const pid of pids()) {
        const stat = readStat(pid);
        if (!stat) continue;
        const seen = cpu.get(pid);
        // A pid first seen after the start began within the window: all its CPU counts.
        if (seen) seen.last = stat.cpuTicks;
        else cpu.set(pid, { first: atStart ? stat.cpuTicks : 0, last: stat.cpuTicks });
        rssKiB += readPeakRssKiB(pid);
      }
      this.#peakRssKiB.set(name, Math.max(this.#peakRssKiB.get(name) ?? 0, rssKiB));
    }
  }
}
