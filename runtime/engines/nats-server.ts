// Starts a throwaway or project-owned nats-server with JetStream and its own
// store folder, on a port of our choosing.
import { mkdtempSync, mkdirSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { findBinary, freePort, spawn, waitForPort } from './process.js';

export interface NatsServerHandle {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** Graceful stop (SIGTERM), waiting for exit. */
  stop(): Promise<void>;
  /** Abrupt stop (SIGKILL), as in a crash. */
  kill(): Promise<void>;
  /** Starts again on the same port and store. */
  restart(): Promise<void>;
  /** The running server's process id, for CPU and memory readings; null while stopped. */
  pid(): number | null;
}

export interface NatsServerOptions {
  readonly port?: number;
  /** Store folder; a fresh temp folder when omitted. */
  readonly storeDir?: string;
  readonly startTimeoutMs?: number;
  /** Own process group, so a Ctrl-C meant for the daemon does not kill the engine under it. */
  readonly detached?: boolean;
  /** A config file (-c), for settings with no command-line flag: authorization, TLS. Flags still set the port and store. */
  readonly configFile?: string;
  /** Added to the server's environment: values for `$VAR` references in configFile. */
  readonly env?: Readonly<Record<string, string>>;
  /** More flags, after ours: a cluster node's name, cluster port and routes (nats-cluster.ts). */
  readonly args?: readonly string[];
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const binary = findBinary('nats-server');
  if (!binary) throw new Error('nats-server is not installed: run `make setup` (Debian package nats-server)');
  const port = options.port ?? (await freePort());
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), 'dialpay-nats-'));
  mkdirSync(storeDir, { recursive: true });
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  let child: ChildProcess | null = null;

  const launch = async (): Promise<void> => {
    const logFd = openSync(join(storeDir, 'nats-server.log'), 'a');
    const config = options.configFile ? ['-c', options.configFile] : [];
    const args = [...config, '-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir, '--http_port', '0', ...(options.args ?? [])];
    child = spawn(binary, args, {
      stdio: ['ignore', logFd, logFd],
      env: { ...process.env, ...options.env },
      detached: options.detached ?? false,
    });
    closeSync(logFd);
    const exited = new Promise<never>((_, reject) =>
      child?.once('exit', (code) => reject(new Error(`nats-server exited with ${code}; see ${storeDir}/nats-server.log`))),
    );
    exited.catch(() => undefined);
    await Promise.race([waitForPort('127.0.0.1', port, startTimeoutMs, 'nats-server'), exited]);
  };

  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    const c = child as ChildProcess | null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const done = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill(signal);
    await done;
    child = null;
  };

  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    stop: () => terminate('SIGTERM'),
    kill: () => terminate('SIGKILL'),
    restart: launch,
    pid: () => (child as ChildProcess | null)?.pid ?? null,
  };
}
