// reconciliation: matches operator charging records against our ledger.
// Runs are one-shot (`dialpay reconcile`, run.ts; one per file across hosts,
// exclusive.ts); this component keeps the
// last run's findings per operator as metrics, so ops see when a person must look.
// At start it reads them back from the RECONCILIATION stream, so a restart
// does not clear an alert that a person has not dealt with.
import { fileURLToPath } from 'node:url';
import type { ComponentContext, ComponentDefinition, StartedComponent } from '../../runtime/component.js';
import { startBaseOnly } from '../../runtime/service-base.js';
import { Gauge } from '../../runtime/metrics.js';
import { Events, type NatsHandle } from '../../runtime/nats/index.js';
import type { dialpay } from '../../proto/index.js';

/** Stream messages read back at start looking for each operator's last run: runs are daily, so this is weeks. */
const RESTORE_READS_MAX = 1_000;
/** The read-back never holds the component's start longer than this; what it found by then is shown. */
const RESTORE_TIME_MAX_MS = 5_000;

/** Each operator's newest run in the stream, newest first, reading at most RESTORE_READS_MAX messages back. */
async function lastRuns(nats: NatsHandle, operatorIds: readonly string[]): Promise<Map<string, dialpay.v1.IReconciliationCompleted>> {
  const found = new Map<string, dialpay.v1.IReconciliationCompleted>();
  const info = await nats.jsm.streams.info('RECONCILIATION').catch(() => null);
  if (!info) return found;
  const oldest = Math.max(info.state.first_seq, info.state.last_seq - RESTORE_READS_MAX + 1);
  const deadlineMs = performance.now() + RESTORE_TIME_MAX_MS;
  for (let seq = info.state.last_seq; seq >= oldest && found.size < operatorIds.length && performance.now() < deadlineMs; seq--) {
    const msg = await nats.jsm.streams.getMessage('RECONCILIATION', { seq }).catch(() => null);
    if (!msg || msg.subject !== Events.reconciliationCompleted.subject) continue;
    const run = Events.reconciliationCompleted.type.decode(msg.data);
    const operator = run.operatorId ?? '';
    if (operatorIds.includes(operator) && !found.has(operator)) found.set(operator, run);
  }
  return found;
}

export { reconcile, type ReconcileSummary } from './run.js';
export { reconcileOnce, fileSha256, runLease, type ExclusiveRun } from './exclusive.js';

async function startReconciliation(context: ComponentContext): Promise<StartedComponent> {
  const base = await startBaseOnly(context, 'reconciliation');
  const findings = new Gauge({ name: 'dialpay_reconciliation_findings',
    help: 'Findings of the last reconciliation run, per operator and category (bad_row included).',
    labelNames: ['operator', 'category'], registers: [context.registry] });
  const needsAction = new Gauge({ name: 'dialpay_reconciliation_needs_action',
    help: '1 when the last run of this operator found anything but matches.', labelNames: ['operator'], registers: [context.registry] });
  const seen = new Set<string>();
  const show = (run: dialpay.v1.IReconciliationCompleted) => {
    const operator = run.operatorId ?? 'unknown';
    seen.add(operator);
    const counts: Record<string, number> = {
      matched: run.matched ?? 0, amount_mismatch: run.amountMismatch ?? 0, status_mismatch: run.statusMismatch ?? 0,
      missing_at_operator: run.missingAtOperator ?? 0, missing_in_ledger: run.missingInLedger ?? 0, duplicate: run.duplicate ?? 0,
      bad_row: run.badRows ?? 0,
    };
    for (const [category, n] of Object.entries(counts)) findings.set({ operator, category }, n);
    needsAction.set({ operator }, run.needsAction ? 1 : 0);
  };
  // Core NATS on the stream's subject: a metric wants the latest run, not a durable history.
  const subscription = context.nats.nc.subscribe(Events.reconciliationCompleted.subject, {
    callback: (err, msg) => {
      if (err) return;
      try {
        show(Events.reconciliationCompleted.type.decode(msg.data));
      } catch (e) {
        context.log.warn({ err: e }, 'undecodable reconciliation event');
      }
    },
  });
  // Subscribed first, so a run that completes while this reads is not missed; what it shows wins.
  try {
    for (const [operator, run] of await lastRuns(context.nats, context.config.operators.map((o) => o.id))) {
      if (!seen.has(operator)) show(run);
    }
  } catch (err) {
    context.log.warn({ err }, 'could not read the last reconciliation runs back; the metrics start empty');
  }
  return {
    readiness: base.readiness,
    stop: async (timeoutMs) => {
      await subscription.drain();
      await base.stop(timeoutMs);
    },
  };
}

export const reconciliation: ComponentDefinition = {
  name: 'reconciliation',
  schema: 'reconciliation',
  // reconciliation.runs: what `dialpay reconcile` ran, so a file is reconciled once (exclusive.ts).
  migrationsDir: fileURLToPath(new URL('./migrations/', import.meta.url)),
  consumers: [],
  start: (context) => startReconciliation(context),
};
