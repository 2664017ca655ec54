// `make run`'s demo agents (cli/demo-agents.ts): one per wallet-model operator, on a line of that
// operator's own ranges that the simulator's phones do not use.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateConfig } from '../../../cli/config.js';
import { numberBelongsTo } from '../../../runtime/msisdn.js';
import { demoAgentLines } from '../../../cli/demo-agents.js';
import { demoPhone } from '../../../operator-sim/index.js';

const config = validateConfig(parse(readFileSync('dialpay.example.yaml', 'utf8')));

it('seeds one agent per wallet-model operator, on its own line in that operator\'s ranges', () => {
  const lines = demoAgentLines(config);
  const walletOperators = config.operators.filter((o) => o.billingAdapter === 'wallet').map((o) => o.id);
  expect(walletOperators.length).toBeGreaterThan(0);
  expect(lines.map((l) => l.operatorId)).toEqual(walletOperators);
  for (const line of lines) {
    const operator = config.operators.find((o) => o.id === line.operatorId);
    expect(operator).toBeDefined();
    if (operator === undefined) throw new Error(`no operator ${line.operatorId}`); // narrows the type; asserted just above
    expect(line.agentId).toMatch(/^[A-Z0-9-]{2,32}$/);
    expect(numberBelongsTo(operator, line.msisdn, config.operators)).toBe(true);
    // Not one of the six demo phones that pay.
    expect([0, 1, 2, 3, 4, 5].map((i) => demoPhone(operator, i))).not.toContain(line.msisdn);
  }
});

it('gives no agent to an operator billed by its carrier', () => {
  const carrierOnly = { ...config, operators: config.operators.map((o) => ({ ...o, billingAdapter: 'simulator' as const })) };
  expect(demoAgentLines(carrierOnly)).toEqual([]);
});
