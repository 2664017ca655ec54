// make bench (SMPP): inbound PDUs per second through one gateway process,
// each published durably to JetStream before its deliver_sm_resp, against the
// same load answered by a bare `smpp`-package echo ESME (the baseline).
// Each side runs in its own process against a load generator in a third.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { freePort, startNatsServer } from '../../runtime/engines/index.js';
import { machineLine, median, rate } from '../stats.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const COUNT = Number(process.env.BENCH_PDUS ?? 60_000);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 1_000);
const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/dist\/?$/, '/');

function start(args: string[]): { child: ChildProcess; output: Promise<string> } {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const output = new Promise<string>((resolve) => child.once('exit', () => resolve(out)));
  return { child, output };
}

async function listening(gen: { child: ChildProcess }): Promise<void> {
  await new Promise<void>((resolve) => {
    const onData = (d: Buffer) => d.toString().includes('LISTENING') && resolve();
    gen.child.stdout?.on('data', onData);
  });
}

async function runOnce(startSut: (port: number) => ChildProcess): Promise<number> {
  const port = await freePort();
  const gen = start([join(here, 'smsc-load.js'), String(port), String(COUNT), String(WINDOW)]);
  await listening(gen);
  const sut = startSut(port);
  const result = JSON.parse((await gen.output).trim().split('\n').pop() as string) as { count: number; ms: number; errors: number };
  sut.kill('SIGKILL');
  if (result.errors > 0) throw new Error(`${result.errors} PDUs answered with an error`);
  return rate(result.count, result.ms);
}

async function main(): Promise<void> {
  const nats = await startNatsServer();
  const dir = mkdtempSync(join(tmpdir(), 'dialpay-bench-'));
  const raw = parse(readFileSync(join(root, 'dialpay.example.yaml'), 'utf8')) as any;
  raw.nats.url = nats.url;
  raw.log = { level: 'error' };
  raw.http.opsPorts = { gateway: await freePort(), payments: await freePort(), ussd: await freePort(), billing: await freePort(), settlement: await freePort(), reconciliation: await freePort() };
  raw.operators[1].smpp.port = await freePort();
  const baseline: number[] = [];
  const gateway: number[] = [];
  try {
    for (let run = 0; run < RUNS; run++) {
      baseline.push(await runOnce((port) => spawn(process.execPath, [join(here, 'echo-esme.js'), String(port)], { stdio: 'ignore' })));
      gateway.push(await runOnce((port) => {
        Object.assign(raw.operators[0].smpp, { port, bindCount: 1, windowSize: WINDOW, reconnectDelayMsMin: 50 });
        const config = join(dir, `gateway-${run}.yaml`);
        writeFileSync(config, stringify(raw));
        return spawn(process.execPath, [join(root, 'dist/cli/dialpay.js'), 'gateway', '--config', config], { stdio: 'ignore' });
      }));
      await fetch('http://127.0.0.1:1').catch(() => undefined);
    }
  } finally {
    await nats.stop();
  }
  const b = median(baseline);
  const g = median(gateway);
  process.stdout.write([
    `machine: ${machineLine()}`,
    `runs: ${RUNS}, medians; ${COUNT} deliver_sm per run, window ${WINDOW}, generator, ESME and nats-server each in their own process`,
    `bare smpp echo ESME (baseline)               ${b.toLocaleString('en')} PDU/s   runs ${baseline.join(' ')}`,
    `gateway, durable JetStream publish per PDU   ${g.toLocaleString('en')} PDU/s   runs ${gateway.join(' ')}   = ${(g / b).toFixed(3)} x baseline`,
  ].join('\n') + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
