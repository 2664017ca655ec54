// make bench (ussd): USSD hops per second through the HTTP edge, and the
// latency of each hop, against a bare node:http server answering "CON" on the
// same machine in the same run (the baseline: what HTTP alone costs here).
// Each simulated phone runs whole sessions the way an aggregator sends them:
// dial, Pay merchant, merchant code, amount, reference: five hops ending at
// the PIN screen. The first asks payments for the subscriber's profile
// (Postgres) and saves the session; the rest read the session from NATS KV
// and replay the path through the menu. Everything
// runs on this machine: gateway, ussd, payments and billing each as its own
// `dialpay` process (as production runs them), nats-server and PostgreSQL
// beside them, the load generator in a worker thread of this process. At the
// end: every hop was answered with the screen it should have shown.
import { Agent, createServer, request } from 'node:http';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { AddressInfo } from 'node:net';
import { connect } from '@nats-io/transport-node';
import { startCluster } from './harness/cluster.js';
import { Requests, requestReply } from '../runtime/nats/index.js';
import { dialpay } from '../proto/index.js';
import { LatencyRecorder } from './harness/latency.js';
import { benchMode, writeRecord, type Check, type Figure } from './harness/report.js';
import { median, plural, WindowedWatch } from './stats.js';

const mode = benchMode();
const HOPS = Number(process.env.BENCH_USSD_HOPS ?? (mode === 'full' ? 15_000 : 5_000));
const PHONES = Number(process.env.BENCH_USSD_PHONES ?? 64);
const RUNS = Number(process.env.BENCH_RUNS ?? (mode === 'full' ? 3 : 1));
/** A hop not answered by then counts as an error (an aggregator gives up far sooner). */
const HOP_TIMEOUT_MS = 10_000;
const SESSION = ['', '1', '1*SHOP42', '1*SHOP42*150', '1*SHOP42*150*0'];
/** The edge runs as in production: every hop carries the aggregator's shared secret, and is checked. */
const SHARED_SECRET = 'bench-aggregator-shared-secret';

/** DESIGN's rate: the p99 target is judged with hops offered at this rate, open loop. */
const OFFERED_HOPS_PER_SECOND = Number(process.env.BENCH_USSD_RATE ?? 3_000);
/** Phones with a PIN that the open-loop sessions take turns with. */
const RATE_PHONES = 512;
/** Sessions open at once in the open-loop run, whatever happens: a stalled server fails the run, not the machine. */
const RATE_SESSIONS_MAX = 2_000;

/** node:http with kept-alive sockets: fetch costs more per request than the server under test. */
const agent = new Agent({ keepAlive: true, maxSockets: PHONES });
/** The open loop's own: its concurrency is whatever the server's latency makes it, and must not queue in the client. */
const rateAgent = new Agent({ keepAlive: true, maxSockets: RATE_SESSIONS_MAX });

function post(port: number, body: string, via: Agent = agent): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/ussd', method: 'POST', agent: via,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body),
        'x-dialpay-ussd-secret': SHARED_SECRET } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(HOP_TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${HOP_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** What a worker posts back: each hop's latency, in the order answered. */
interface DriveResult {
  hopsPerSecond: number;
  latenciesMs: Float64Array;
  errors: number;
}

interface RunResult {
  hopsPerSecond: number;
  hops: number;
  errors: number;
  latency: LatencyRecorder;
  latenciesMs: Float64Array;
}

const SCREENS = [/^CON dialpay\n1 Pay merchant/, /^CON Enter the merchant code:$/, /^CON Enter the amount \(KES\):$/,
  /^CON Enter a reference/, /^CON Enter your PIN:$/];
type Mode = 'bare' | 'warm-up' | 'dialpay' | 'dialpay-at-rate';
const EXPECT: Readonly<Record<Mode, (text: string, step: number) => boolean>> = {
  bare: (t) => t === 'CON baseline',
  'warm-up': (t) => t.startsWith('CON ') || t.startsWith('END '),
  dialpay: (t, step) => (SCREENS[step] as RegExp).test(t),
  'dialpay-at-rate': (t, step) => (SCREENS[step] as RegExp).test(t),
};

/**
 * Runs the phones in a worker thread, so the load generator's own HTTP work does not share the
 * event loop with the server under test (the baseline gets the same treatment).
 */
function driveInWorker(port: number, mode: Mode): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { port, mode } });
    worker.once('message', (result: DriveResult) => {
      const latency = new LatencyRecorder();
      for (const ms of result.latenciesMs) latency.recordMs(ms);
      resolve({ hopsPerSecond: result.hopsPerSecond, hops: result.latenciesMs.length, errors: result.errors, latency,
        latenciesMs: result.latenciesMs });
    });
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`load worker exited with ${code}`)));
  });
}

/** PHONES phones run sessions until HOPS hops are answered; every answer is checked. */
async function drive(port: number, expect: (text: string, step: number) => boolean): Promise<DriveResult> {
  const latenciesMs: number[] = [];
  const byStepMs: number[][] = SESSION.map(() => []);
  let errors = 0;
  let sent = 0;
  let sessionNo = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: PHONES }, async (_, phone) => {
    const phoneNumber = `+2547${String(20_000_000 + phone)}`;
    while (sent < HOPS) {
      const sessionId = `bench-${process.pid}-${++sessionNo}`;
      for (let step = 0; step < SESSION.length && sent < HOPS; step++) {
        sent++;
        const body = new URLSearchParams({ sessionId, serviceCode: '*384#', phoneNumber, networkCode: '63902',
          text: SESSION[step] as string }).toString();
        const t0 = performance.now();
        const res = await post(port, body).catch(() => null);
        latenciesMs.push(performance.now() - t0);
        byStepMs[step]?.push(performance.now() - t0);
        if (res === null || res.status !== 200 || !expect(res.text, step)) errors++;
      }
    }
  }));
  return finish(started, latenciesMs, byStepMs, errors);
}

/**
 * Open loop: sessions start on a schedule that offers OFFERED_HOPS_PER_SECOND hops (each session's
 * five hops follow one another, as a phone's do) until HOPS hops are sent, whatever the latency.
 */
async function driveAtRate(port: number, expect: (text: string, step: number) => boolean): Promise<DriveResult> {
  const latenciesMs: number[] = [];
  const byStepMs: number[][] = SESSION.map(() => []);
  let errors = 0;
  const sessionsTotal = Math.ceil(HOPS / SESSION.length);
  const sessionIntervalMs = (1_000 * SESSION.length) / OFFERED_HOPS_PER_SECOND;
  const running = new Set<Promise<void>>();
  const started = performance.now();
  const session = async (n: number) => {
    const phoneNumber = `+2547${String(20_000_000 + (n % RATE_PHONES))}`;
    const sessionId = `bench-rate-${process.pid}-${n}`;
    for (let step = 0; step < SESSION.length; step++) {
      const body = new URLSearchParams({ sessionId, serviceCode: '*384#', phoneNumber, networkCode: '63902',
        text: SESSION[step] as string }).toString();
      const t0 = performance.now();
      const res = await post(port, body, rateAgent).catch(() => null);
      latenciesMs.push(performance.now() - t0);
      byStepMs[step]?.push(performance.now() - t0);
      if (res === null || res.status !== 200 || !expect(res.text, step)) errors++;
    }
  };
  for (let n = 0; n < sessionsTotal; ) {
    const due = Math.min(sessionsTotal, Math.floor((performance.now() - started) / sessionIntervalMs) + 1);
    for (; n < due; n++) {
      if (running.size >= RATE_SESSIONS_MAX) {
        errors++; // the server fell this far behind: counted, not queued
        continue;
      }
      const p = session(n).finally(() => running.delete(p));
      running.add(p);
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(running);
  return finish(started, latenciesMs, byStepMs, errors);
}

function finish(started: number, latenciesMs: number[], byStepMs: number[][], errors: number): DriveResult {
  const elapsedMs = performance.now() - started;
  if (process.env.BENCH_DEBUG) {
    process.stdout.write(`p50 by step: ${byStepMs.map((l) => percentile(l.sort((a, b) => a - b), 50).toFixed(1)).join(' / ')} ms\n`);
  }
  return { hopsPerSecond: (latenciesMs.length / elapsedMs) * 1000, latenciesMs: Float64Array.from(latenciesMs), errors };
}

async function main(): Promise<void> {
  const cluster = await startCluster({
    components: ['billing', 'payments', 'ussd', 'gateway'],
    carrier: 'simulator',
    durablePostgres: true,
    logLevel: 'error',
    configure: (raw) => {
      raw.postgres.poolSizeMax = 20;
      raw.ussd.http.sharedSecret = SHARED_SECRET;
    },
  });
  const ussdPort = cluster.config.ussd.http.port as number;
  const bare = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('CON baseline');
    });
  });
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
  const barePort = (bare.address() as AddressInfo).port;

  // Every phone has a PIN already (first use would ask for one): set through payments, as the menu does.
  const nc = await connect({ servers: cluster.nats.url });
  for (let phone = 0; phone < Math.max(PHONES, RATE_PHONES); phone++) {
    const reply = await requestReply(nc, Requests.paymentsSubscriber, { operatorId: 'safaricom-ke',
      msisdn: `2547${String(20_000_000 + phone)}`, setPin: { newPin: '2468' } }, 10_000);
    if (reply.outcome !== dialpay.v1.CommandOutcome.COMMAND_OUTCOME_OK) throw new Error(`could not set a PIN: ${reply.outcome}`);
  }
  await nc.close();
  const dialpayRuns: RunResult[] = [];
  const atRateRuns: RunResult[] = [];
  const bareRuns: RunResult[] = [];
  const watch = new WindowedWatch();
  // The bare server and the load worker thread live in this process; each component in its own.
  const bareGroups: [string, () => number[]][] = [['bare node:http + load worker thread (baseline runs)', () => [process.pid]]];
  const dialpayGroups: [string, () => number[]][] = [...cluster.processGroups()].map(([name,
    pids]) => [name === 'load generator + operator sim' ? 'load worker thread (bench process)' : name, pids]);
  // One warm-up pass of each, then alternate so drift on a shared machine hits both alike.
  const warmUps = [await driveInWorker(barePort, 'bare'), await driveInWorker(ussdPort, 'warm-up')];
  for (let run = 0; run < RUNS; run++) {
    bareRuns.push(await watch.measure(bareGroups, () => driveInWorker(barePort, 'bare')));
    dialpayRuns.push(await watch.measure(dialpayGroups, () => driveInWorker(ussdPort, 'dialpay')));
    atRateRuns.push(await driveInWorker(ussdPort, 'dialpay-at-rate'));
  }
  await new Promise<void>((resolve) => bare.close(() => resolve()));
  await cluster.stop();

  const rate = (runs: RunResult[]) => Math.round(median(runs.map((r) => r.hopsPerSecond)));
  const p99 = (runs: RunResult[]) => median(runs.map((r) => r.latency.summary().p99));
  const pooled = (runs: RunResult[]) => {
    const all = new LatencyRecorder();
    for (const r of runs) for (const ms of r.latenciesMs) all.recordMs(ms);
    return all.summary();
  };
  const figures: Figure[] = [
    { name: 'USSD hops through the HTTP edge -> ussd -> KV / payments', value: rate(dialpayRuns), unit: 'hops/s',
      target: { op: '>=', value: 3_000 }, baseline: { name: 'bare node:http', value: rate(bareRuns) }, latencyMs: pooled(dialpayRuns),
      runs: dialpayRuns.map((r) => Math.round(r.hopsPerSecond)) },
    { name: `USSD hop p99 at ${OFFERED_HOPS_PER_SECOND.toLocaleString('en')} hops/s offered (open loop)`, value: p99(atRateRuns),
      unit: 'ms',
      target: { op: '<=', value: 30 }, latencyMs: pooled(atRateRuns), runs: atRateRuns.map((r) => r.latency.summary().p99) },
    { name: 'USSD hop p99 at saturation (closed loop above)', value: p99(dialpayRuns), unit: 'ms',
      baseline: { name: 'bare node:http', value: p99(bareRuns) }, runs: dialpayRuns.map((r) => r.latency.summary().p99) },
    { name: 'bare node:http answering CON (baseline)', value: rate(bareRuns), unit: 'hops/s', latencyMs: pooled(bareRuns),
      runs: bareRuns.map((r) => Math.round(r.hopsPerSecond)) },
  ];
  const measured = [...bareRuns, ...dialpayRuns, ...atRateRuns];
  const errors = [...warmUps, ...measured].reduce((n, r) => n + r.errors, 0);
  const hops = measured.reduce((n, r) => n + r.hops, 0);
  const checks: Check[] = [{
    name: 'every hop answered with the screen it should show',
    ok: errors === 0 && measured.every((r) => r.hops === HOPS),
    detail: `${hops.toLocaleString('en')} hops in ${plural(measured.length, 'measured run')} (${HOPS.toLocaleString('en')} each), ` +
      `${errors} wrong, failed or unanswered (warm-up included)`,
  }];
  writeRecord({
    bench: 'ussd',
    title: 'USSD hops over HTTP',
    mode,
    setup: `${HOPS.toLocaleString('en')} hops a run from ${PHONES} phones at once (closed loop, load generator in a worker thread) for ` +
      `the rate at saturation; then the same count offered at ${OFFERED_HOPS_PER_SECOND.toLocaleString('en')} hops/s open loop (new ` +
      `sessions on a schedule, ${RATE_PHONES} phones) for the p99 target, which DESIGN sets at that rate; median of ` +
      `${plural(RUNS, 'run')} after one warm-up pass each, baseline and dialpay alternating. Sessions of 5 hops (dial, 1, SHOP42, 150, ` +
      `0: main menu to the PIN screen); the first reads the subscriber's profile from payments (PostgreSQL), the rest the session from ` +
      `NATS KV. Gateway, ussd, payments and billing each a \`dialpay\` process, nats-server and durable PostgreSQL beside them; the load ` +
      `generator is a worker thread of the bench process. Latency columns pool every run's hops; the p99 figure is the median of the ` +
      `runs' p99s. The baseline is a bare node:http server answering "CON baseline" in the bench process.`,
    figures,
    processes: watch.usage(),
    errors,
    checks,
  });
  if (checks.some((c) => !c.ok)) process.exitCode = 1;
}

if (isMainThread) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(1);
  });
} else {
  const { port, mode } = workerData as { port: number; mode: Mode };
  // A failed drive ends the worker with code 1: the parent rejects on that exit (driveInWorker), the stack on stderr says why.
  (mode === 'dialpay-at-rate' ? driveAtRate : drive)(port, EXPECT[mode]).then((result) => {
    agent.destroy();
    rateAgent.destroy();
    parentPort?.postMessage(result);
  }, (err: unknown) => {
    process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(1);
  });
}
