// make bench (SMPP): inbound PDUs per second through one gateway process,
// each published durably to JetStream before its deliver_sm_resp, against the
// same load answered by a bare `smpp`-package echo ESME (the baseline).
// Each side runs in its own process against a load generator in a third;
// runs alternate so drift on a shared machine hits both alike. At the end:
// every PDU got exactly one resp, and every one the gateway answered is in
// SMS_INBOUND exactly once.
import { COMPONENT_NAMES } from '../../runtime/config/index.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { freePort, startNatsServer } from '../../runtime/engines/index.js';
import { benchMode, writeRecord, type Check, type Figure } from '../harness/report.js';
import { summarizeCpuProfiles } from '../harness/profile.js';
import { median, pidOf, plural, rate, WindowedWatch } from '../stats.js';

const mode = benchMode();
const RUNS = Number(process.env.BENCH_RUNS ?? (mode === 'full' ? 3 : 1));
const COUNT = Number(process.env.BENCH_PDUS ?? (mode === 'full' ? 60_000 : 20_000));
const WINDOW = Number(process.env.BENCH_WINDOW ?? 1_000);
/** A run that has not finished by then has stalled: the bench fails rather than wait. */
const RUN_TIMEOUT_MS = 30_000 + COUNT;
const READY_TIMEOUT_MS = 30_000;
/** BENCH_PROFILE=<folder>: the gateway runs with --cpu-prof into it, and the run prints where its time went. */
const PROFILE_DIR = process.env.BENCH_PROFILE ?? '';
const PROFILE_ARGS = PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/dist\/?$/, '/');

interface GeneratorResult {
  readonly count: number;
  readonly ms: number;
  readonly errors: number;
  readonly distinct: number;
  readonly duplicates: number;
  readonly unknown: number;
}

interface RunResult extends GeneratorResult {
  readonly perSecond: number;
}

async function expectLine(output: AsyncIterator<string>, what: (line: string) => boolean, timeoutMs: number,
  waitingFor: string): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_,
    reject) => (timer = setTimeout(() => reject(new Error(`no ${waitingFor} from the load generator within ${timeoutMs} ms`)), timeoutMs)));
  try {
    return await Promise.race([(async () => {
      for (;;) {
        const { done, value } = await output.next();
        if (done) throw new Error(`load generator exited before ${waitingFor}`);
        if (what(value)) return value;
      }
    })(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

/**
 * One run: the generator listens, the system under test binds to it, and the
 * measured window (and the CPU readings) runs from the bind to the last resp.
 */
async function runOnce(startSut: (port: number) => ChildProcess, watch: WindowedWatch,
  groups: (gen: ChildProcess, sut: ChildProcess) => [string, () => number[]][]): Promise<RunResult> {
  const port = await freePort();
  const gen = spawn(process.execPath, [join(here, 'smsc-load.js'), String(port), String(COUNT), String(WINDOW)],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  // readline buffers the lines until they are asked for.
  const output = createInterface({ input: gen.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
  let sut: ChildProcess | null = null;
  try {
    await expectLine(output, (l) => l === 'LISTENING', READY_TIMEOUT_MS, 'LISTENING');
    sut = startSut(port);
    await expectLine(output, (l) => l === 'BOUND', READY_TIMEOUT_MS, 'bind');
    const end = watch.begin(groups(gen, sut));
    const result = JSON.parse(await expectLine(output, (l) => l.startsWith('{'), RUN_TIMEOUT_MS, 'result').finally(end)) as GeneratorResult;
    return { ...result, perSecond: rate(result.count, result.ms) };
  } finally {
    // A profiled gateway must exit on its own to write its profile; SIGTERM drains it.
    if (sut) await stopChild(sut, PROFILE_DIR ? 'SIGTERM' : 'SIGKILL');
    gen.stdin?.end();
    await stopChild(gen, 'SIGTERM');
  }
}

async function inboundMessages(jsm: JetStreamManager): Promise<number> {
  return (await jsm.streams.info('SMS_INBOUND').catch(() => null))?.state.messages ?? 0;
}

async function main(): Promise<void> {
  const nats = await startNatsServer();
  const dir = mkdtempSync(join(tmpdir(), 'dialpay-bench-'));
  const raw = parse(readFileSync(join(root, 'dialpay.example.yaml'), 'utf8')) as any;
  raw.nats.url = nats.url;
  raw.log = { level: 'error' };
  raw.http.opsPorts = Object.fromEntries(await Promise.all(COMPONENT_NAMES.map(async (c) => [c, await freePort()])));
  raw.operators[1].smpp.port = await freePort();
  const nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  const baseline: RunResult[] = [];
  const gateway: RunResult[] = [];
  /** Messages the gateway runs added to SMS_INBOUND, per run. */
  const published: number[] = [];
  const watch = new WindowedWatch();
  try {
    for (let run = 0; run < RUNS; run++) {
      baseline.push(await runOnce(
        (port) => spawn(process.execPath, [join(here, 'echo-esme.js'), String(port)], { stdio: 'ignore' }),
        watch,
        (gen, sut) => [['bare smpp echo ESME (baseline runs)', () => pidOf(sut.pid)],
          ['load generator (baseline runs)', () => pidOf(gen.pid)]],
      ));
      const before = await inboundMessages(jsm);
      gateway.push(await runOnce(
        (port) => {
          Object.assign(raw.operators[0].smpp, { port, bindCount: 1, windowSize: WINDOW, reconnectDelayMsMin: 50 });
          const config = join(dir, `gateway-${run}.yaml`);
          writeFileSync(config, stringify(raw));
          return spawn(process.execPath, [...PROFILE_ARGS, join(root, 'dist/cli/dialpay.js'), 'gateway', '--config', config],
            { stdio: 'ignore' });
        },
        watch,
        (gen, sut) => [
          ['gateway', () => pidOf(sut.pid)],
          ['nats-server', () => pidOf(nats.pid())],
          ['load generator', () => pidOf(gen.pid)],
          ['bench driver', () => [process.pid]],
        ],
      ));
      published.push((await inboundMessages(jsm)) - before);
    }
  } finally {
    await nc.close();
    await nats.stop();
  }

  if (PROFILE_DIR) process.stdout.write(`${summarizeCpuProfiles(PROFILE_DIR, (file) => `gateway ${file}`, 25).join('\n')}\n`);
  const b = median(baseline.map((r) => r.perSecond));
  const g = median(gateway.map((r) => r.perSecond));
  const figures: Figure[] = [
    { name: 'inbound PDUs through the gateway, each durably published before its resp', value: g, unit: 'PDU/s',
      target: { op: '>=', value: 20_000 }, baseline: { name: 'bare smpp echo ESME', value: b }, runs: gateway.map((r) => r.perSecond) },
    { name: 'gateway rate as a share of the bare echo ESME', value: b > 0 ? Math.round((g / b) * 1000) / 1000 : 0, unit: '×',
      target: { op: '>=', value: 0.5 } },
    { name: 'bare smpp echo ESME, answering at once (baseline)', value: b, unit: 'PDU/s', runs: baseline.map((r) => r.perSecond) },
  ];
  const all = [...baseline, ...gateway];
  const oneRespEach = all.filter((r) => r.distinct !== r.count || r.duplicates > 0 || r.unknown > 0);
  const streamMismatch = gateway.map((r, i) => ({ accepted: r.count - r.errors,
    inStream: published[i] ?? 0 })).filter((x) => x.accepted !== x.inStream);
  const checks: Check[] = [
    {
      name: 'every PDU got exactly one resp',
      ok: oneRespEach.length === 0,
      detail: `${plural(all.length, 'run')} (baseline and gateway) of ${COUNT.toLocaleString('en')} deliver_sm: ` +
        `${all.reduce((n, r) => n + r.distinct, 0).toLocaleString('en')} distinct resps, ${all.reduce((n, r) => n + r.duplicates, 0)} ` +
        `duplicates, ${all.reduce((n, r) => n + r.unknown, 0)} for unknown sequence numbers`,
    },
    {
      name: 'every PDU the gateway accepted is in SMS_INBOUND exactly once',
      ok: streamMismatch.length === 0,
      detail: `per run, accepted / in the stream: ` +
        `${gateway.map((r, i) => `${(r.count - r.errors).toLocaleString('en')} / ${(published[i] ?? 0).toLocaleString('en')}`).join(', ')}`,
    },
  ];
  writeRecord({
    bench: 'smpp-inbound',
    title: 'Inbound SMPP PDUs through one gateway process',
    mode,
    setup: `${COUNT.toLocaleString('en')} deliver_sm per run, window ${WINDOW}, one bind; the load generator (an SMSC on a raw socket), ` +
      `the gateway or the bare echo ESME, and nats-server each in their own process. Median of ${plural(RUNS, 'run')}, baseline and ` +
      `gateway alternating. The gateway publishes each message to JetStream (file store, Nats-Msg-Id) and waits for the ack before its ` +
      `deliver_sm_resp; the echo ESME answers at once. CPU is over the measured windows (bind to last resp) only.`,
    figures,
    processes: watch.usage(),
    errors: all.reduce((n, r) => n + r.errors, 0),
    checks,
  });
  if (checks.some((c) => !c.ok)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
