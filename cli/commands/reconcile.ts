// `dialpay reconcile`: an operator's charging-records file against the ledger.
import { createLogger } from '../../runtime/log.js';
import { connectNats, natsOptionsFor } from '../../runtime/nats/index.js';
import { Leases } from '../../runtime/pg/lease.js';
import { reconcileOnce } from '../../services/reconciliation/index.js';
import { usageError, type Command } from '../command.js';
import { LEASE_WAIT_MS, leaseWaitNote } from './lease-wait.js';
import { commandPool } from '../pool.js';

export const reconcile: Command = {
  needsConfig: true,
  help: [
    ['reconcile --operator ID FILE [--out BASE] [--again]',
      "match an operator's charging-records CSV against the ledger; writes BASE.csv",
      '(every discrepancy and bad row) and BASE.json (the summary); exit 3 when a person must look;',
      'a file reconciled before (same bytes, any host) answers with that run\'s summary',
      'unless --again; one run per file at a time, a second waits for the first'],
  ],
  async run({ config, positionals, values }) {
    const file = positionals[1];
    const operator = config.operators.find((o) => o.id === values.operator);
    if (!file || !operator) usageError('dialpay reconcile needs --operator ID (one in the config) and a FILE');
    const log = createLogger({ level: config.log.level, component: 'reconcile' });
    const nats = await connectNats(natsOptionsFor(config.nats, 'reconciliation', 'dialpay-reconcile'), log);
    // One connection holds the file's lease, one records the run.
    const pool = commandPool(config, 'dialpay-reconcile', log, { poolSizeMax: 2, statementTimeoutMs: 120_000 });
    try {
      const { summary, ranNow } = await reconcileOnce({
        operator, file, outBase: values.out ?? `reconciliation-${operator.id}-${Date.now()}`,
        nc: nats.nc, js: nats.js, publishTimeoutMs: config.nats.publishTimeoutMs,
        pool, leases: new Leases({ pool, log }), leaseWaitMs: LEASE_WAIT_MS,
        onLeaseWait: leaseWaitNote(`reconciling this file for ${operator.id}`), again: values.again === true,
      });
      const result = {
        counts: summary.counts, badRows: summary.badRows, needsAction: summary.needsAction, report: summary.reportCsv,
        ...(ranNow ? {} : { alreadyReconciled: true }),
      };
      process.stdout.write(`${JSON.stringify(result)}\n`);
      if (summary.needsAction) process.exitCode = 3;
    } finally {
      await pool.end();
      await nats.close();
    }
  },
};
