// `make run`'s agents. On an operator whose subscribers' only money is their
// dialpay wallet (billingAdapter: wallet, orange-sn in dialpay.example.yaml), a
// payment fails "insufficient balance" until money comes in. So `dialpay dev`
// registers one demo agent per such operator, gives its line a PIN and its
// float a day's top-up (each step idempotent: the next `make run` finds them),
// and the simulator's agent phone cashes in to the demo phones before they pay.
import type { Config } from '../runtime/config/index.js';
import type { Logger } from '../runtime/log.js';
import { hashSecret } from '../runtime/secrets.js';
import { currencyDecimals } from '../runtime/money.js';
import { addAgent, fundAgent } from '../services/payments/index.js';
import { fundAgentFloat } from '../services/billing/agent-floats.js';
import { demoPhone, type DemoAgentLine } from '../operator-sim/index.js';
import { commandPool } from './pool.js';

/** The phone number the simulator gives the agent: one past its demo phones. */
const AGENT_PHONE_INDEX = 99;
/** A demo PIN: this agent exists only on a developer's machine. */
const DEMO_PIN = '1357';
/** A day's float, in major units of the operator's currency. */
const FLOAT_PER_DAY_MAJOR = 1_000_000n;

/** The agents `dialpay dev` seeds: one per wallet-model operator. Pure. */
export function demoAgentLines(config: Config): DemoAgentLine[] {
  return config.operators
    .filter((o) => o.billingAdapter === 'wallet')
    .map((o) => ({
      operatorId: o.id, agentId: `DEMO-${o.id.toUpperCase().replace(/[^A-Z0-9]/g, '')}`.slice(0, 32),
      msisdn: demoPhone(o, AGENT_PHONE_INDEX), pin: DEMO_PIN,
    }));
}

/** Registers, PINs and funds each demo agent; answers the lines the simulator's agent phones use. */
export async function seedDemoAgents(config: Config, log: Logger, say: (line: string) => void): Promise<DemoAgentLine[]> {
  const lines = demoAgentLines(config);
  if (lines.length === 0) return lines;
  const pool = commandPool(config, 'dialpay-dev-agents', log);
  try {
    for (const line of lines) {
      const operator = config.operators.find((o) => o.id === line.operatorId);
      if (!operator) continue;
      const added = await addAgent(pool, config,
        { operatorId: operator.id, agentId: line.agentId, name: 'Demo agent', number: line.msisdn, actor: 'dialpay dev' });
      if (added.kind !== 'added' && added.kind !== 'id-taken') throw new Error(`demo agent ${line.agentId}: ${added.kind}`);
      // The demo line's PIN, so the simulated agent can confirm its deposits.
      await pool.query(
        `INSERT INTO payments.subscribers (msisdn, language, pin_hash) VALUES ($1, $2, $3)
         ON CONFLICT (msisdn) DO UPDATE SET pin_hash = EXCLUDED.pin_hash, pin_failures = 0, pin_locked = false, updated_at = now()`,
        [line.msisdn, operator.defaultLanguage, await hashSecret(line.pin)],
      );
      const reference = `demo-${new Date().toISOString().slice(0, 10)}`;
      const scale = 10n ** BigInt(currencyDecimals(operator.currency));
      const funded = await fundAgent(pool, config,
        { agentId: line.agentId, amountMinor: FLOAT_PER_DAY_MAJOR * scale, reference, actor: 'dialpay dev' }, fundAgentFloat);
      const outcome = funded.kind === 'billing' ? funded.result.outcome : funded.kind;
      // The PIN is never printed (DESIGN: PINs are not logged); README.md names the demo one.
      say(`demo agent ${line.agentId} (+${line.msisdn}) of ${operator.id}: float top-up ${reference} ${outcome}`);
    }
  } finally {
    await pool.end();
  }
  return lines;
}
