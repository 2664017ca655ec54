// Captures loopback traffic on given ports with tshark, and reads the capture
// back through Wireshark's SMPP dissector: what an operator's engineer sees.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findBinary } from '../../runtime/engines/index.js';

const run = promisify(execFile);

export class Capture {
  readonly file: string;
  readonly #ports: readonly number[];
  readonly #child: ChildProcess;
  private constructor(file: string, ports: readonly number[], child: ChildProcess) {
    this.file = file;
    this.#ports = ports;
    this.#child = child;
  }

  static async start(ports: readonly number[]): Promise<Capture> {
    const tshark = findBinary('tshark');
    if (!tshark) throw new Error('tshark is not installed: run `make setup` (Debian package tshark)');
    const file = join(mkdtempSync(join(tmpdir(), 'dialpay-cap-')), 'smpp.pcapng');
    const filter = ports.map((p) => `tcp port ${p}`).join(' or ');
    const child = spawn(tshark, ['-i', 'lo', '-f', filter, '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`tshark did not start: ${stderr}`)), 15_000);
      child.stderr?.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/Capturing on/.test(stderr)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`tshark exited ${code}: ${stderr}`)));
    });
    // dumpcap says "Capturing on" a moment before its filter sees packets.
    await new Promise((r) => setTimeout(r, 1_000));
    return new Capture(file, ports, child);
  }

  async stop(): Promise<void> {
    await new Promise((r) => setTimeout(r, 500)); // let the last packets reach the file
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.kill('SIGINT');
    await exited;
  }

  #decodeAs(): string[] {
    return this.#ports.flatMap((p) => ['-d', `tcp.port==${p},smpp`]);
  }

  /** Every SMPP command_id Wireshark decoded, in order. */
  async commandIds(): Promise<number[]> {
    const { stdout } = await run('tshark', ['-r', this.file, ...this.#decodeAs(), '-Y', 'smpp', '-T', 'fields', '-e', 'smpp.command_id'], { maxBuffer: 64 * 1024 * 1024 });
    return stdout.split(/[\n,]/).filter(Boolean).map((v) => Number(v));
  }

  /** Wireshark's values of `fieldNames` in each packet matching `displayFilter`: one row per packet, each field's first occurrence. */
  async fields(displayFilter: string, fieldNames: readonly string[]): Promise<string[][]> {
    const { stdout } = await run('tshark', ['-r', this.file, ...this.#decodeAs(), '-Y', displayFilter, '-T', 'fields', '-E', 'occurrence=f', ...fieldNames.flatMap((f) => ['-e', f])], { maxBuffer: 64 * 1024 * 1024 });
    return stdout.split('\n').filter(Boolean).map((line) => line.split('\t'));
  }

  /** Packets Wireshark flags as malformed or with an error-level expert note. */
  async problems(): Promise<string[]> {
    const { stdout } = await run('tshark', ['-r', this.file, ...this.#decodeAs(), '-Y', '_ws.malformed || _ws.expert.severity >= "Error"'], { maxBuffer: 64 * 1024 * 1024 });
    return stdout.split('\n').filter(Boolean);
  }
}
