// Small process helpers shared by the engine launchers.
import { spawn, execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const execFileAsync = promisify(execFile);

/** Finds an executable on PATH or in the extra folders (Debian keeps server binaries off PATH). */
export function findBinary(name: string, extraDirs: readonly string[] = []): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', ...extraDirs];
  for (const dir of dirs) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

/** Debian's PostgreSQL binaries: /usr/lib/postgresql/<major>/bin, newest first. */
export function postgresBinDirs(): string[] {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => join(root, v, 'bin'));
}

// Ports are handed out from below Linux's ephemeral range (32768-60999). A port picked
// there by listen(0) can be taken by any outgoing connection's local end between our
// check and the real listen, which made parallel suites fail with EADDRINUSE.
const portRangeLow = 20_000;
const portSlotSize = 1_500;
const portSlotCount = 8;
// Each vitest worker (or process) gets its own slot, so two workers never race for one port.
const portSlot = Number(process.env.VITEST_POOL_ID ?? process.pid) % portSlotCount;
let portCursor = Math.floor(Math.random() * portSlotSize);

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port nobody listens on, outside the ephemeral range, not handed out before by this process. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < portSlotSize; attempt++) {
    const port = portRangeLow + portSlot * portSlotSize + (portCursor++ % portSlotSize);
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port in ${portRangeLow + portSlot * portSlotSize}..+${portSlotSize}`);
}

export async function isPortOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function waitForPort(host: string, port: number, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await isPortOpen(host, port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not listen on ${host}:${port} within ${timeoutMs} ms`);
}

/** Runs a command as another user when we are root (PostgreSQL refuses to run as root). */
export function asUser(user: string | null, command: string, args: readonly string[]): [string, string[]] {
  if (user === null) return [command, [...args]];
  const runuser = findBinary('runuser') ?? '/usr/sbin/runuser';
  return [runuser, ['-u', user, '--', command, ...args]];
}

export { spawn };
