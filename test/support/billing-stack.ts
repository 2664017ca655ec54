// billing on its own, as a service: a nats-server and PostgreSQL of its own (setupStack), the
// billing component hosted with the given carrier, plus a NATS connection, a pool and the ledger
// for the test to drive and read it. The billing integration suites share this.
import type { Config } from '../../runtime/config/index.js';
import { startHost, type Host } from '../../runtime/host.js';
import { connectNats, type EventDef, type EventMessage, type NatsHandle } from '../../runtime/nats/index.js';
import { createPool, type Pool } from '../../runtime/pg/index.js';
import { billingComponent, Ledger, type SimulatedCarrier } from '../../services/billing/index.js';
import { quietLogger, setupStack, waitFor, type Stack } from './stack.js';
import { readEvents } from './streams.js';

export interface BillingStack {
  readonly stack: Stack;
  readonly host: Host;
  readonly nats: NatsHandle;
  readonly pool: Pool;
  readonly ledger: Ledger;
  /** The first result event of `def` for this debit, waited for. */
  result<M extends EventMessage & { debitId?: string | null }>(def: EventDef<M>, debitId: string): Promise<M>;
  stop(): Promise<void>;
}

/** `config` shapes the stack's config (another operator, say); by default the stack's own. */
export async function startBillingStack(
  carrier: SimulatedCarrier, config: (stack: Stack) => Config = (s) => s.config,
): Promise<BillingStack> {
  const log = quietLogger();
  const stack = await setupStack();
  const host = await startHost(config(stack), [billingComponent(carrier)], { log });
  const nats = await connectNats({ ...stack.config.nats, name: 'test' }, log);
  const pool = createPool({ url: stack.databaseUrl, poolSizeMax: 4, connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, applicationName: 'test' }, log);
  return {
    stack, host, nats, pool, ledger: new Ledger(pool),
    result: (def, debitId) => waitFor(`${def.subject} for ${debitId}`, async () => (await readEvents(nats, 'DEBITS', def)).find((r) => r.debitId === debitId)),
    async stop() {
      await pool.end();
      await host.stop();
      await nats.close();
      await stack.cleanup();
    },
  };
}
