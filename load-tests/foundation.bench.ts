// make bench (foundation): how fast events become durable.
//   durable publish: SmsInbound events through JetStream with Nats-Msg-Id,
//     a window of outstanding publishes, each awaited (what the gateway does
//     before answering a PDU). Baseline: core NATS publish of the same bytes
//     (fire and forget, one flush), on the same server in the same run.
//   outbox relay: events committed to a service outbox, relayed to JetStream.
//     Baseline: the durable publish rate above.
// Runs each measurement RUNS times on throwaway engines; reports medians. At
// the end: every durable publish was acked once and stored, and the relay
// emptied the outbox into the stream.
import { connectNats, provisionTopology, publishEvent, encodeEvent, newEnvelope, Events, type NatsHandle } from '../runtime/nats/index.js';
import { TOPOLOGY } from '../cli/components.js';
import { createPool, enqueueEvent, migrateSchemas, OutboxRelay, withTransaction } from '../runtime/pg/index.js';
import { startNatsServer, startPostgres } from '../runtime/engines/index.js';
import { createLogger } from '../runtime/log.js';
import { Registry } from '../runtime/metrics.js';
import { benchMode, writeRecord, type Check, type Figure } from './harness/report.js';
import { median, pidOf, plural, rate, treeOf, WindowedWatch } from './stats.js';

const mode = benchMode();
const RUNS = Number(process.env.BENCH_RUNS ?? (mode === 'full' ? 5 : 1));
const EVENTS = Number(process.env.BENCH_EVENTS ?? (mode === 'full' ? 20_000 : 10_000));
const OUTBOX_EVENTS = Number(process.env.BENCH_OUTBOX_EVENTS ?? (mode === 'full' ? 10_000 : 5_000));
const WINDOW_SIZE = 512;
const RELAY_BATCH_MAX = 500;
/** The relay must empty the outbox by then, or the bench fails rather than spin. */
const RELAY_TIMEOUT_MS = 60_000;
const log = createLogger({ level: 'warn' });

function inbound(i: number) {
  return { envelope: newEnvelope({ producer: 'bench' }), operatorId: 'safaricom-ke', fromMsisdn: '254712345678', toAddress: '384',
    text: `PAY SHOP42 ${i}`, smscMessageId: String(i), bindId: 'b0' };
}

/** Per run: publishes acked as new, acked as duplicates, failed; and what the stream then held. */
interface DurableRun {
  readonly perSecond: number;
  readonly acked: number;
  readonly duplicates: number;
  readonly failed: number;
  readonly stored: number;
}

async function durablePublish(nats: NatsHandle): Promise<DurableRun> {
  const messages = Array.from({ length: EVENTS }, (_, i) => inbound(i));
  let next = 0;
  let acked = 0;
  let duplicates = 0;
  let failed = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < messages.length) {
      const m = messages[next++] as ReturnType<typeof inbound>;
      try {
        const ack = await publishEvent(nats.js, Events.smsInbound, m, { timeoutMs: 10_000 });
        if (ack.duplicate) duplicates++;
        else acked++;
      } catch (err) {
        failed++;
        if (failed <= 3) log.warn({ err }, 'durable publish failed');
      }
    }
  };
  await Promise.all(Array.from({ length: WINDOW_SIZE }, worker));
  const perSecond = rate(EVENTS, performance.now() - t0);
  return { perSecond, acked, duplicates, failed, stored: (await nats.jsm.streams.info('SMS_INBOUND')).state.messages };
}

async function main(): Promise<void> {
  const [natsServer, pg] = await Promise.all([startNatsServer(), startPostgres({ durable: true })]);
  await pg.createDatabase('bench');
  const nats = await connectNats({ url: natsServer.url, name: 'bench', connectTimeoutMs: 5_000, reconnectWaitMs: 500,
    reconnectAttemptsMax: 3, publishTimeoutMs: 10_000 }, log);
  await provisionTopology(nats, TOPOLOGY, 1, log);
  await migrateSchemas(pg.urlFor('bench'), [{ schema: 'bench', dir: null }], log);
  const pool = createPool({ url: pg.urlFor('bench'), poolSizeMax: 8, connectTimeoutMs: 5_000, statementTimeoutMs: 60_000,
    applicationName: 'bench' }, log);
  const core: number[] = [];
  const durable: DurableRun[] = [];
  const relays: { perSecond: number; relayed: number; stored: number; left: number }[] = [];
  const watch = new WindowedWatch();
  const postgres = () => treeOf(pg.pid());
  try {
    for (let run = 0; run < RUNS; run++) {
      const payloads = Array.from({ length: EVENTS }, (_, i) => encodeEvent(Events.smsInbound, inbound(i)));
      const t0 = performance.now();
      for (const p of payloads) nats.nc.publish('bench.core', p);
      await nats.nc.flush();
      core.push(rate(EVENTS, performance.now() - t0));

      await nats.jsm.streams.purge('SMS_INBOUND');
      durable.push(await watch.measure([['bench process (durable publish)', () => [process.pid]],
        ['nats-server (durable publish)', () => pidOf(natsServer.pid())]], () => durablePublish(nats)));
      await nats.jsm.streams.purge('SMS_INBOUND');

      await withTransaction(pool, 'READ COMMITTED', async (client) => {
        for (let i = 0; i < OUTBOX_EVENTS; i++) await enqueueEvent(client, 'bench', Events.smsInbound, inbound(i));
      });
      const relay = new OutboxRelay({ pool, js: nats.js, schema: 'bench', batchSizeMax: RELAY_BATCH_MAX, pollIntervalMs: 10,
        publishTimeoutMs: 10_000, log, registry: new Registry() });
      const relayGroups: [string, () => number[]][] = [['bench process (outbox relay)', () => [process.pid]],
        ['nats-server (outbox relay)', () => pidOf(natsServer.pid())], ['postgres (outbox relay)', postgres]];
      const relayed = await watch.measure(relayGroups, async () => {
        const started = performance.now();
        let n = 0;
        while (n < OUTBOX_EVENTS) {
          if (performance.now() - started > RELAY_TIMEOUT_MS) {
            throw new Error(`outbox relay moved ${n} of ${OUTBOX_EVENTS} events in ${RELAY_TIMEOUT_MS} ms`);
          }
          n += await relay.relayOnce();
        }
        return { n, perSecond: rate(OUTBOX_EVENTS, performance.now() - started) };
      });
      const left = Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM bench.outbox')).rows[0]?.n ?? -1);
      const stored = (await nats.jsm.streams.info('SMS_INBOUND')).state.messages;
      relays.push({ perSecond: relayed.perSecond, relayed: relayed.n, stored, left });
      await nats.jsm.streams.purge('SMS_INBOUND');
    }
  } finally {
    await pool.end();
    await nats.close();
    await Promise.allSettled([natsServer.stop(), pg.stop()]);
  }
  const coreMedian = median(core);
  const durableMedian = median(durable.map((r) => r.perSecond));
  const relayMedian = median(relays.map((r) => r.perSecond));
  const figures: Figure[] = [
    { name: `JetStream durable publish, Nats-Msg-Id dedup, ${WINDOW_SIZE} outstanding`, value: durableMedian, unit: 'msg/s',
      baseline: { name: 'core NATS publish', value: coreMedian }, runs: durable.map((r) => r.perSecond) },
    { name: `outbox relay to JetStream, batch ${RELAY_BATCH_MAX}`, value: relayMedian, unit: 'msg/s',
      baseline: { name: 'durable publish', value: durableMedian }, runs: relays.map((r) => r.perSecond) },
    { name: 'core NATS publish, fire and forget, one flush (baseline)', value: coreMedian, unit: 'msg/s', runs: core },
  ];
  const checks: Check[] = [
    {
      name: 'every durable publish acked once and stored',
      ok: durable.every((r) => r.acked === EVENTS && r.stored === EVENTS),
      detail: `${plural(durable.length, 'run')} of ${EVENTS.toLocaleString('en')}: ` +
        `${durable.map((r) => `${r.acked.toLocaleString('en')} acked, ${r.duplicates} as duplicates, ${r.failed} failed, ` +
          `${r.stored.toLocaleString('en')} in SMS_INBOUND`).join('; ')}`,
    },
    {
      name: 'the relay emptied the outbox into the stream',
      ok: relays.every((r) => r.relayed === OUTBOX_EVENTS && r.stored === OUTBOX_EVENTS && r.left === 0),
      detail: `${plural(relays.length, 'run')} of ${OUTBOX_EVENTS.toLocaleString('en')}: ` +
        `${relays.map((r) => `${r.relayed.toLocaleString('en')} relayed, ${r.stored.toLocaleString('en')} in SMS_INBOUND, ${r.left} left ` +
          `in the outbox`).join('; ')}`,
    },
  ];
  writeRecord({
    bench: 'foundation',
    title: 'How fast events become durable',
    mode,
    setup: `SmsInbound events (${EVENTS.toLocaleString('en')} a run) published to JetStream with Nats-Msg-Id, ${WINDOW_SIZE} ` +
      `outstanding, each ack awaited (what the gateway does before answering a PDU), against core NATS publish of the same bytes on the ` +
      `same server. Then ${OUTBOX_EVENTS.toLocaleString('en')} events committed to a service outbox in one transaction and relayed to ` +
      `JetStream in batches of ${RELAY_BATCH_MAX}, against the durable publish rate. nats-server (file store) and durable PostgreSQL on ` +
      `this machine, median of ${plural(RUNS, 'run')}; CPU is over the durable-publish and relay windows.`,
    figures,
    processes: watch.usage(),
    errors: durable.reduce((n, r) => n + r.failed + r.duplicates, 0),
    checks,
  });
  if (checks.some((c) => !c.ok)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
