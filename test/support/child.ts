// Runs a TypeScript fixture or the CLI as a real child process, so tests can
// SIGKILL it at the worst moment or send it SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT } from './stack.js';

export interface Child {
  readonly process: ChildProcess;
  stdout(): string;
  stderr(): string;
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  exited(): Promise<number | null>;
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

export function runTs(file: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, options: { stdin?: 'pipe' } = {}): Child {
  // One process, not the tsx CLI: that wraps the script in a child process, so a SIGKILL meant
  // for the worker would kill only the wrapper and leave the worker running.
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
    cwd: ROOT,
    // The caller's DIALPAY_* settings (a DIALPAY_CONFIG, DIALPAY__nats__url) must not reach a test's child: it uses
    // what the test gives it and nothing a developer's shell or `make run` left behind.
    env: { ...withoutDialpaySettings(process.env), ...env },
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    process: child,
    stdout: () => out,
    stderr: () => err,
    waitForLine: async (pattern, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = out.split('\n').find((l) => pattern.test(l));
        if (line) return line;
        if (child.exitCode !== null) throw new Error(`child exited (${child.exitCode}) before ${pattern}: ${err.slice(-2000)}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; stdout: ${out.slice(-2000)} stderr: ${err.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    exited: () => exit,
    kill: async (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exit;
    },
  };
}

function withoutDialpaySettings(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('DIALPAY')));
}
