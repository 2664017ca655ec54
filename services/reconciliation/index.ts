// reconciliation: matches operator charging records against our ledger.
// Runs are one-shot (`dialpay reconcile`, run.ts); this component keeps the
// last run's findings per operator as metrics, so ops see when a person must look.
import type { ComponentContext, ComponentDefinition, StartedComponent } from '../../runtime/component.js';
import { startBaseOnly } from '../../runtime/service-base.js';
import { Gauge } from '../../runtime/metrics.js';
import { Events } from '../../runtime/nats/index.js';

export { reconcile, type ReconcileSummary } from './run.js';

async function startReconciliation(context: ComponentContext): Promise<StartedComponent> {
  const base = await startBaseOnly(context, 'reconciliation');
  const findings = new Gauge({ name: 'dialpay_reconciliation_findings', help: 'Findings of the last reconciliation run, per operator and category (bad_row included).', labelNames: ['operator', 'category'], registers: [context.registry] });
  const needsAction = new Gauge({ name: 'dialpay_reconciliation_needs_action', help: '1 when the last run of this operator found anything but matches.', labelNames: ['operator'], registers: [context.registry] });
  // Core NATS on the stream's subject: a metric wants the latest run, not a durable history.
  const subscription = context.nats.nc.subscribe(Events.reconciliationCompleted.subject, {
    callback: (err, msg) => {
      if (err) return;
      try {
        const run = Events.reconciliationCompleted.type.decode(msg.data);
        const operator = run.operatorId ?? 'unknown';
        const counts: Record<string, number> = {
          matched: run.matched ?? 0, amount_mismatch: run.amountMismatch ?? 0, status_mismatch: run.statusMismatch ?? 0, missing_at_operator: run.missingAtOperator ?? 0,
          missing_in_ledger: run.missingInLedger ?? 0, duplicate: run.duplicate ?? 0, bad_row: run.badRows ?? 0,
        };
        for (const [category, n] of Object.entries(counts)) findings.set({ operator, category }, n);
        needsAction.set({ operator }, run.needsAction ? 1 : 0);
      } catch (e) {
        context.log.warn({ err: e }, 'undecodable reconciliation event');
      }
    },
  });
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
  migrationsDir: null,
  start: (context) => startReconciliation(context),
};
