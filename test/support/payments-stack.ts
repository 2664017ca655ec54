// The whole SMS payment path for end-to-end tests: throwaway engines, the
// simulated SMSC the gateway binds to, and billing, payments and the gateway
// in this process, with the USSD menus and merchant webhooks. `configure` adjusts the config before start.
import { validateConfig } from '../../cli/config.js';
import { startHost, type Host } from '../../runtime/host.js';
import { createPool, type Pool } from '../../runtime/pg/index.js';
import { freePort, type NatsServerOptions } from '../../runtime/engines/index.js';
import { gateway } from '../../gateway/index.js';
import { payments } from '../../services/payments/index.js';
import { ussd } from '../../services/ussd/index.js';
import { webhooks } from '../../services/webhooks/index.js';
import { settlement } from '../../services/settlement/index.js';
import { reconciliation } from '../../services/reconciliation/index.js';
import { billingComponent, Ledger, type SimulatedCarrier } from '../../services/billing/index.js';
import { SmscSimulator } from '../../operator-sim/index.js';
import { connectNats, type NatsHandle } from '../../runtime/nats/index.js';
import type { StoredApiKey } from '../../runtime/api-keys.js';
import { setupStack, quietLogger, waitFor, type Stack } from './stack.js';

export interface PaymentsStack {
  readonly stack: Stack;
  readonly host: Host;
  readonly sim: SmscSimulator;
  readonly pool: Pool;
  readonly ledger: Ledger;
  /** Sends `text` from `phone` to the short code and returns the next SMS that phone receives. */
  ask(phone: string, text: string, timeoutMs?: number): Promise<string>;
  /** PAY by SMS and confirm with the code: resolves with the payment id once it is completed (captured). */
  payBySms(phone: string, merchantId: string, amount: string): Promise<string>;
  /** The SMS number `after` + 1 that `phone` receives. */
  nextSms(phone: string, after: number, timeoutMs?: number): Promise<string>;
  cleanup(): Promise<void>;
}

/** `beforeStart` runs once the engines are up, before any component starts (e.g. to leave streams as an older release made them). */
export async function startPaymentsStack(
  carrier: SimulatedCarrier, configure: (raw: any) => void = () => undefined,
  options: { natsServer?: NatsServerOptions; beforeStart?: (stack: Stack) => Promise<void> } = {},
): Promise<PaymentsStack> {
  const log = quietLogger();
  const stack = await setupStack(options);
  const sim = new SmscSimulator({ systemId: 'dialpay', password: 'secret1', receiptDelayMs: 10 });
  const raw = structuredClone(stack.rawConfig) as any;
  Object.assign(raw.operators[0].smpp, { port: await sim.start(), bindCount: 1, reconnectDelayMsMin: 100, reconnectDelayMsMax: 500 });
  raw.operators[1].smpp.port = await freePort();
  raw.outbox.pollIntervalMs = 20;
  configure(raw);
  await options.beforeStart?.(stack);
  const host = await startHost(validateConfig(raw),
    [billingComponent(carrier), payments, ussd, settlement, reconciliation, webhooks, gateway], { log });
  const pool = createPool({ url: stack.databaseUrl, poolSizeMax: 4, connectTimeoutMs: 5_000, statementTimeoutMs: 5_000, applicationName: 'test' }, log);
  await waitFor('gateway bound', async () => sim.boundSessions === 1);
  const nextSms = async (phone: string, after: number, timeoutMs = 15_000) =>
    (await waitFor(`SMS #${after + 1} to ${phone}`, async () => sim.submitted.filter((s) => s.destination === phone)[after], timeoutMs)).text;
  const ask = async (phone: string, text: string, timeoutMs?: number) => {
    const seen = sim.submitted.filter((m) => m.destination === phone).length;
    const statuses = await sim.sendFromPhone(phone, '384', text);
    if (statuses.some((s) => s !== 0)) throw new Error(`the gateway answered ${statuses.join(',')} to "${text}"`);
    return nextSms(phone, seen, timeoutMs);
  };
  return {
    stack, host, sim, pool, ledger: new Ledger(pool),
    nextSms,
    ask,
    payBySms: async (phone, merchantId, amount) => {
      const challenge = await ask(phone, `PAY ${merchantId} ${amount}`);
      const receipt = await ask(phone, `YES ${/YES (\d{4})/.exec(challenge)?.[1]}`);
      if (!receipt.startsWith('Paid ')) throw new Error(`${phone} paid ${merchantId} ${amount} and got "${receipt}"`);
      const id = (await pool.query<{ payment_id: string }>('SELECT payment_id FROM payments.payments WHERE payer_msisdn = $1 ORDER BY created_at DESC LIMIT 1', [phone])).rows[0]?.payment_id as string;
      await waitFor(`payment ${id} completed`, async () => (await pool.query(`SELECT 1 FROM payments.payments WHERE payment_id = $1 AND state = 'completed'`, [id])).rowCount === 1);
      return id;
    },
    cleanup: async () => {
      await pool.end();
      await host.stop();
      await sim.stop();
      await stack.cleanup();
    },
  };
}

export interface MerchantApiStack {
  readonly p: PaymentsStack;
  /** The merchant API's base URL. */
  readonly api: string;
  /** A NATS connection of the test's own, to read streams. */
  readonly nats: NatsHandle;
}

/** The payments stack with the merchant API on a free port; merchant i gets apiKeys[i]. */
export async function startMerchantApiStack(
  carrier: SimulatedCarrier, apiKeys: readonly StoredApiKey[], name: string,
): Promise<MerchantApiStack> {
  const port = await freePort();
  const p = await startPaymentsStack(carrier, (raw) => {
    raw.merchantApi = { port };
    apiKeys.forEach((stored, i) => (raw.merchants[i].apiKeys = [stored]));
    raw.limits.paymentsPerMinuteMax = 50;
  });
  const nats = await connectNats({ ...p.stack.config.nats, name }, quietLogger());
  return { p, api: `http://127.0.0.1:${port}`, nats };
}
