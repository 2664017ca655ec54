// settlement: closes each operator's daily window from the ledger (through
// billing), keeps the batch, tells merchants (settlement.closed) and answers
// the merchant API's GET /v1/settlements.
import { fileURLToPath } from 'node:url';
import type { ComponentContext, ComponentDefinition, StartedComponent } from '../../runtime/component.js';
import { startServiceBase } from '../../runtime/service-base.js';
import { Requests, serveRequests } from '../../runtime/nats/index.js';
import { SettlementService } from './windows.js';
import { InteropSettlement } from './interop.js';
import { Leases } from '../../runtime/pg/lease.js';

export { SettlementService, WindowStillOpenError, batchCsv, leaseOf, windowId, writeReports } from './windows.js';
export { InteropSettlement, InteropDayStillOpenError, interopWindowId, writeInteropReports } from './interop.js';

/** How often due windows are looked for. Closing is idempotent, so a short period costs one query per operator. */
const CLOSE_SWEEP_MS = 60_000;

async function startSettlement(context: ComponentContext): Promise<StartedComponent> {
  const { config, nats, log } = context;
  const base = startServiceBase(context, 'settlement');
  const pool = context.pool as NonNullable<typeof context.pool>;
  // Every replica sweeps; a window's lease lets one close it, the others skip it (runtime/pg/lease.ts).
  const leases = new Leases({ pool, log, registry: context.registry });
  const service = new SettlementService({ pool, nc: nats.nc, config, log, leases });
  const interop = new InteropSettlement({ pool, nc: nats.nc, log, leases });
  const lines = serveRequests(nats.nc, Requests.settlementMerchant, {
    queue: 'settlement', inFlightMax: 64, log, unavailable: () => ({ available: false }), handle: (r) => service.forMerchant(r),
  });
  let sweeping = false;
  const sweep = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    service.closeDue()
      .then(() => interop.closeDue(config.settlementReports.dir))
      .catch((err: unknown) => log.warn({ err }, 'settlement sweep failed'))
      .finally(() => (sweeping = false));
  }, CLOSE_SWEEP_MS);
  sweep.unref();
  return {
    readiness: base.readiness,
    stop: async (timeoutMs) => {
      clearInterval(sweep);
      await lines.drain();
      await base.stop(timeoutMs);
    },
  };
}

export const settlement: ComponentDefinition = {
  name: 'settlement',
  schema: 'settlement',
  migrationsDir: fileURLToPath(new URL('./migrations/', import.meta.url)),
  consumers: [],
  start: (context) => startSettlement(context),
};
