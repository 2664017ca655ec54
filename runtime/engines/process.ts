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

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
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
