// make bench (foundation): how fast events become durable.
//   durable publish: SmsInbound events through JetStream with Nats-Msg-Id,
//     a window of outstanding publishes, each awaited (what the gateway does
//     before answering a PDU). Baseline: core NATS publish of the same bytes
//     (fire and forget, one flush), on the same server in the same run.
//   outbox relay: events committed to a service outbox, relayed to JetStream.
//     Baseline: the durable publish rate above.
// Runs each measurement RUNS times on throwaway engines; reports medians.
import { connectNats, provisionTopology, publishEvent, encodeEvent, newEnvelope, Events, TOPOLOGY } from '../runtime/nats/index.js';
import { createPool, enqueueEvent, migrateSchemas, OutboxRelay, withTransaction } from '../runtime/pg/index.js';
import { startNatsServer, startPostgres } from '../runtime/engines/index.js';
import { createLogger } from '../runtime/log.js';
import { Registry } from '../runtime/metrics.js';
import { machineLine, median, rate } from './stats.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000);
const OUTBOX_EVENTS = Number(process.env.BENCH_OUTBOX_EVENTS ?? 10_000);
const WINDOW_SIZE = 512;
const log = createLogger({ level: 'warn' });

function inbound(i: number) {
  return { envelope: newEnvelope({ producer: 'bench' }), operatorId: 'safaricom-ke', fromMsisdn: '254712345678', toAddress: '384', text: `PAY SHOP42 ${i}`, smscMessageId: String(i), bindId: 'b0' };
}

async function main(): Promise<void> {
  const [natsServer, pg] = await Promise.all([startNatsServer(), startPostgres({ durable: true })]);
  await pg.createDatabase('bench');
  const nats = await connectNats({ url: natsServer.url, name: 'bench', connectTimeoutMs: 5_000, reconnectWaitMs: 500, reconnectAttemptsMax: 3, publishTimeoutMs: 10_000 }, log);
  await provisionTopology(nats, TOPOLOGY, 1, log);
  await migrateSchemas(pg.urlFor('bench'), [{ schema: 'bench', dir: null }], log);
  const pool = createPool({ url: pg.urlFor('bench'), poolSizeMax: 8, connectTimeoutMs: 5_000, statementTimeoutMs: 60_000, applicationName: 'bench' }, log);
  const core: number[] = [];
  const durable: number[] = [];
  const relayRates: number[] = [];
  try {
    for (let run = 0; run < RUNS; run++) {
      const payloads = Array.from({ length: EVENTS }, (_, i) => encodeEvent(Events.smsInbound, inbound(i)));
      let t0 = performance.now();
      for (const p of payloads) nats.nc.publish('bench.core', p);
      await nats.nc.flush();
      core.push(rate(EVENTS, performance.now() - t0));

      const messages = Array.from({ length: EVENTS }, (_, i) => inbound(i));
      t0 = performance.now();
      let next = 0;
      const worker = async () => {
        while (next < messages.length) {
          const m = messages[next++] as ReturnType<typeof inbound>;
          await publishEvent(nats.js, Events.smsInbound, m, { timeoutMs: 10_000 });
        }
      };
      await Promise.all(Array.from({ length: WINDOW_SIZE }, worker));
      durable.push(rate(EVENTS, performance.now() - t0));
      await nats.jsm.streams.purge('SMS_INBOUND');

      await withTransaction(pool, 'READ COMMITTED', async (client) => {
        for (let i = 0; i < OUTBOX_EVENTS; i++) await enqueueEvent(client, 'bench', Events.smsInbound, inbound(i));
      });
      const relay = new OutboxRelay({ pool, js: nats.js, schema: 'bench', batchSizeMax: 500, pollIntervalMs: 10, publishTimeoutMs: 10_000, log, registry: new Registry() });
      t0 = performance.now();
      let relayed = 0;
      while (relayed < OUTBOX_EVENTS) relayed += await relay.relayOnce();
      relayRates.push(rate(OUTBOX_EVENTS, performance.now() - t0));
      await nats.jsm.streams.purge('SMS_INBOUND');
    }
  } finally {
    await pool.end();
    await nats.close();
    await Promise.allSettled([natsServer.stop(), pg.stop()]);
  }
  const coreMedian = median(core);
  const durableMedian = median(durable);
  const relayMedian = median(relayRates);
  const lines = [
    `machine: ${machineLine()}`,
    `runs: ${RUNS}, medians; events per run: ${EVENTS} (publish), ${OUTBOX_EVENTS} (outbox)`,
    `core NATS publish (baseline)           ${coreMedian.toLocaleString('en')} msg/s   runs ${core.join(' ')}`,
    `JetStream durable publish, dedup, w=${WINDOW_SIZE} ${durableMedian.toLocaleString('en')} msg/s   runs ${durable.join(' ')}   = ${(durableMedian / coreMedian).toFixed(3)} x baseline`,
    `outbox relay to JetStream, batch 500    ${relayMedian.toLocaleString('en')} ev/s    runs ${relayRates.join(' ')}   = ${(relayMedian / durableMedian).toFixed(3)} x durable publish`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
