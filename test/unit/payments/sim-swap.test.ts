// Which payments ask the operator whether the payer's SIM was swapped (services/payments/sim-swap.ts),
// and that an operator without the API counts a skip, once the payment's transaction commits.
import { describe, expect, it } from 'vitest';
import { Registry } from '../../../runtime/metrics.js';
import { simSwapDecision, SimSwapMetrics } from '../../../services/payments/sim-swap.js';
import { loadExampleWith } from '../../support/config.js';

const simSwap = {
  url: 'https://op.example/sim-swap/v2', tokenUrl: 'https://op.example/oauth2/token', clientId: 'dialpay',
  maxAgeHours: 24, checkAboveMinor: 50_000,
};
const config = loadExampleWith((raw) => Object.assign(raw.operators[0], { simSwap }));
const withApi = config.operators[0] as (typeof config.operators)[number];
const withoutApi = config.operators[1] as (typeof config.operators)[number];

describe('simSwapDecision', () => {
  it('checks a payer\'s own payment, transfer or withdrawal at or above the threshold, with the operator\'s maxAge', () => {
    expect(withApi.simSwap?.checkAboveMinor).toBe(50_000n);
    expect(simSwapDecision(withApi, {}, 50_000n)).toEqual({ kind: 'check', maxAgeHours: 24 });
    expect(simSwapDecision(withApi, { agentId: null, mandateId: null }, 90_000n)).toEqual({ kind: 'check', maxAgeHours: 24 });
    expect(simSwapDecision(withApi, {}, 49_999n)).toEqual({ kind: 'not-needed' });
  });

  it('never checks a cash-in by an agent nor a mandate charge, with or without the API', () => {
    for (const operator of [withApi, withoutApi]) {
      expect(simSwapDecision(operator, { agentId: 'agent-1' }, 90_000n)).toEqual({ kind: 'not-needed' });
      expect(simSwapDecision(operator, { mandateId: 'm-1' }, 90_000n)).toEqual({ kind: 'not-needed' });
    }
  });

  it('skips when the payer\'s operator has no SIM Swap API, whatever the amount', () => {
    expect(withoutApi.simSwap).toBeUndefined();
    expect(simSwapDecision(withoutApi, {}, 1n)).toEqual({ kind: 'skipped' });
    expect(simSwapDecision(withoutApi, {}, 10n ** 12n)).toEqual({ kind: 'skipped' });
  });

  it('defaults: hold when the API is down, a 72-hour window, every amount checked', () => {
    const minimal = loadExampleWith((raw) => Object.assign(raw.operators[0], {
      simSwap: { url: simSwap.url, tokenUrl: simSwap.tokenUrl, clientId: 'dialpay' },
    })).operators[0]?.simSwap;
    expect(minimal).toMatchObject({ onUnavailable: 'hold', maxAgeHours: 72, checkAboveMinor: 0n, clientSecret: '' });
  });
});

describe('SimSwapMetrics', () => {
  it('counts skips by operator under dialpay_sim_swap_checks_total{outcome="skipped"}', async () => {
    const registry = new Registry();
    const metrics = new SimSwapMetrics(registry);
    metrics.skipped('orange-sn');
    metrics.skipped('orange-sn');
    const text = await registry.metrics();
    expect(text).toContain('dialpay_sim_swap_checks_total{operator="orange-sn",outcome="skipped"} 2');
  });
});
