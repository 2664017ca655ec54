// The config is composed: the runtime's sections and shared registries, with each component's own
// sections and cross-section rules from its <component>/config.ts, in the one YAML layout.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { baseConfigSchema, composeConfigSchema } from '../../runtime/config/index.js';
import { CONFIG_PARTS } from '../../cli/config.js';
import { configErrorOf, loadExampleWith } from '../support/config.js';

describe('composed config', () => {
  it('keeps the components\' sections out of the runtime\'s schema', () => {
    const runtimeKeys = Object.keys(baseConfigSchema.shape);
    for (const key of ['feeSchedules', 'limits', 'webhooks', 'billingSimulator', 'settlementReports', 'merchantApi', 'ussd']) expect(runtimeKeys, key).not.toContain(key);
  });

  it('joins the ussd section from the gateway (its HTTP edge) and the ussd service (its own keys)', () => {
    const config = loadExampleWith((raw) => (raw.ussd = { ...raw.ussd, hopsInFlightMax: 7, http: { ...raw.ussd?.http, path: '/hop' } }));
    expect(config.ussd.hopsInFlightMax).toBe(7);
    expect(config.ussd.http.path).toBe('/hop');
    expect(configErrorOf(() => loadExampleWith((raw) => (raw.ussd = { ...raw.ussd, hopsPerSecond: 1 }))).message).toMatch(/ussd\.hopsPerSecond: unknown key/);
  });

  it('runs each component\'s cross-section rules: merchants and cash-outs name fee schedules payments holds', () => {
    expect(configErrorOf(() => loadExampleWith((raw) => (raw.merchants[0].feeScheduleId = 'nope'))).key).toBe('merchants[0].feeScheduleId');
    expect(configErrorOf(() => loadExampleWith((raw) => (raw.operators[0].cashOutFeeScheduleId = 'nope'))).key).toBe('operators[0].cashOutFeeScheduleId');
    expect(configErrorOf(() => loadExampleWith((raw) => raw.feeSchedules.push({ ...raw.feeSchedules[0] }))).message).toMatch(/feeSchedules\[\d+\]\.id: duplicate id/);
  });

  it('joins each merchant from the runtime\'s fields and the components\' (fee schedule, payouts, webhook endpoint, API rate)', () => {
    const merchant = loadExampleWith((raw) =>
      Object.assign(raw.merchants[0], { apiRequestsPerSecondMax: 3, payouts: { perPayoutMaxMinor: 5, perDayMaxMinor: 10 } })).merchants[0]!;
    expect([merchant.apiRequestsPerSecondMax, merchant.payouts?.perDayMaxMinor, typeof merchant.feeScheduleId]).toEqual([3, 10n, 'string']);
    expect(configErrorOf(() => loadExampleWith((raw) => (raw.merchants[0].payouts = { perPayoutMaxMinor: 11, perDayMaxMinor: 10 }))).key).toBe('merchants[0].payouts.perPayoutMaxMinor');
    expect(configErrorOf(() => loadExampleWith((raw) => (raw.merchants[0].webhookUrl = 'not a url'))).key).toBe('merchants[0].webhookUrl');
    expect(configErrorOf(() => loadExampleWith((raw) => (raw.merchants[0].colour = 'red'))).message).toMatch(/merchants\[0\]\.colour: unknown key/);
    expect(Object.keys(baseConfigSchema.shape.merchants.element.shape).sort()).toEqual(['apiKeys', 'id', 'name', 'operatorIds']);
  });

  it('refuses a key two parts declare, or one the runtime holds, and a field declared twice in a joined section', () => {
    expect(() => composeConfigSchema([...CONFIG_PARTS, { sections: { limits: z.strictObject({ tiers: z.array(z.string()) }) } }])).toThrow(/limits\.tiers is declared twice/);
    expect(() => composeConfigSchema([{ sections: { operators: z.array(z.string()) } }])).toThrow(/operators is the runtime's/);
    expect(() => composeConfigSchema([{ sections: { feeSchedules: z.array(z.string()) } }, { sections: { feeSchedules: z.array(z.string()) } }])).toThrow(/section feeSchedules is declared twice/);
    expect(() => composeConfigSchema([...CONFIG_PARTS, { sections: { ussd: z.strictObject({ hopsInFlightMax: z.number().default(1) }).prefault({}) } }])).toThrow(/ussd\.hopsInFlightMax is declared twice/);
    expect(() => composeConfigSchema([...CONFIG_PARTS, { sections: {}, merchantFields: { payouts: z.string() } }])).toThrow(/merchant field payouts is declared twice/);
    expect(() => composeConfigSchema([{ sections: {}, merchantFields: { name: z.string() } }])).toThrow(/merchant field name is declared twice/);
  });
});
