// `dialpay settle`: close a merchant settlement window, or (--interop) a UTC day's
// operator-to-operator settlement, and write its reports.
import type { Config } from '../../runtime/config/index.js';
import { createLogger } from '../../runtime/log.js';
import { connectNats, natsOptionsFor } from '../../runtime/nats/index.js';
import { Leases } from '../../runtime/pg/lease.js';
import { commandPool } from '../pool.js';
import {
  InteropDayStillOpenError, InteropSettlement, SettlementService, windowId, writeInteropReports, writeReports,
} from '../../services/settlement/index.js';
import { usageError, type Command, type ConfigContext } from '../command.js';
import { LEASE_WAIT_MS, leaseWaitNote } from './lease-wait.js';

/** What `dialpay settle` works with: the settlement service's NATS identity and a small pool (one connection holds the lease). */
async function settleEngines(config: Config) {
  const log = createLogger({ level: config.log.level, component: 'settle' });
  const nats = await connectNats(natsOptionsFor(config.nats, 'settlement', 'dialpay-settle'), log);
  const pool = commandPool(config, 'dialpay-settle', log, { poolSizeMax: 3, statementTimeoutMs: 120_000 });
  return { log, nats, pool, leases: new Leases({ pool, log }) };
}

/** `dialpay settle --interop --window DAY`: closes the UTC day's operator-to-operator settlement and writes its reports. */
async function settleInterop(config: Config, day: string | undefined, out: string | undefined): Promise<void> {
  if (!day) usageError('dialpay settle --interop needs --window YYYY-MM-DD (a UTC day)');
  const { log, nats, pool, leases } = await settleEngines(config);
  try {
    const closed = await new InteropSettlement({ pool, nc: nats.nc, log, leases })
      .close(day, { leaseWaitMs: LEASE_WAIT_MS, onLeaseWait: leaseWaitNote(`closing interop/${day}`) });
    const base = writeInteropReports(out ?? '.', closed);
    const verb = closed.closedNow ? 'closed' : 'already closed';
    process.stdout.write(`${verb} ${closed.windowId}: ${closed.lines.length} pair(s) of operators;`
      + ` wrote ${base}.csv and ${base}.json\n`);
  } catch (err) {
    if (!(err instanceof InteropDayStillOpenError)) throw err;
    process.stderr.write(`dialpay: ${err.message}; nothing written\n`);
    process.exitCode = 1;
  } finally {
    await pool.end();
    await nats.close();
  }
}

async function settleWindow({ config, values }: ConfigContext): Promise<void> {
  if (values.interop) return settleInterop(config, values.window, values.out);
  const { operator, window } = values;
  if (!operator || !window) usageError('dialpay settle needs --operator ID and --window YYYY-MM-DD');
  const { log, nats, pool, leases } = await settleEngines(config);
  try {
    const service = new SettlementService({ pool, nc: nats.nc, config, log, leases });
    if (values.paid) {
      const id = windowId(operator, window);
      process.stdout.write(`${await service.markSettled(id)} ${id}\n`);
      return;
    }
    const closed = await service.close(operator, window,
      { leaseWaitMs: LEASE_WAIT_MS, onLeaseWait: leaseWaitNote(`closing ${windowId(operator, window)}`) });
    const base = writeReports(values.out ?? '.', closed);
    const verb = closed.closedNow ? 'closed' : 'already closed';
    process.stdout.write(`${verb} ${closed.windowId}: ${closed.batch.merchants.length} merchant(s);`
      + ` wrote ${base}.csv, ${base}-operator.csv and ${base}.json\n`);
  } finally {
    await pool.end();
    await nats.close();
  }
}

export const settle: Command = {
  needsConfig: true,
  help: [
    ['settle --operator ID --window YYYY-MM-DD [--out DIR] [--paid]',
      'close that settlement window (idempotent) and write its CSV and JSON reports;',
      '--paid marks a closed window paid out (SETTLED); while another process (a',
      'settlement replica) closes it, waits for it, then answers with its batch'],
    ['settle --interop --window YYYY-MM-DD [--out DIR]',
      "close that UTC day's operator-to-operator settlement (idempotent): the net",
      'position of each pair of operators per currency, as CSV and JSON reports'],
  ],
  run: settleWindow,
};
