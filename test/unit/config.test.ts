import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../cli/config.js';
import { configErrorOf, loadExampleWith } from '../support/config.js';
import { assertChargingSecrets } from '../../services/billing/index.js';

const loadWith = loadExampleWith;
const errorOf = configErrorOf;

describe('config', () => {
  it('accepts the shipped example, with money as bigint minor units', () => {
    const config = loadWith(() => undefined);
    expect(config.operators).toHaveLength(2);
    expect(config.merchants).toHaveLength(3);
    expect(config.feeSchedules[0]?.fixedMinor).toBe(10n);
    expect(config.limits.tiers[1]?.monthlyMaxMinor).toBe(100_000_000n);
  });

  it('keeps the simulated carrier\'s state shared by default; process only when asked; names a bad value', () => {
    expect(loadWith(() => undefined).billingSimulator.state).toBe('shared');
    expect(loadWith((raw) => (raw.billingSimulator = { state: 'process' })).billingSimulator.state).toBe('process');
    expect(errorOf(() => loadWith((raw) => (raw.billingSimulator = { state: 'memory' }))).key).toBe('billingSimulator.state');
  });

  it('names the key of a value with the wrong type', () => {
    const err = errorOf(() => loadWith((raw) => (raw.operators[1].smpp.port = 'twenty')));
    expect(err.key).toBe('operators[1].smpp.port');
    expect(err.message).toContain('operators[1].smpp.port');
  });

  it('bounds the merchant API failed-authentication limit, with defaults, and names a bad key', () => {
    const defaults = loadWith((raw) => (raw.merchantApi = { port: 8380 })).merchantApi;
    expect([defaults.authFailuresMax, defaults.authFailureWindowMs, defaults.authFailureSourcesMax]).toEqual([10, 60_000, 10_000]);
    expect(errorOf(() => loadWith((raw) => (raw.merchantApi.authFailuresMax = 0))).key).toBe('merchantApi.authFailuresMax');
    expect(errorOf(() => loadWith((raw) => (raw.merchantApi.authFailureSourcesMax = 10_000_000))).key).toBe('merchantApi.authFailureSourcesMax');
  });

  it('bounds the batched consumers\' size and linger, with defaults, and names a bad key', () => {
    const defaults = loadWith((raw) => (raw.consumers = { inFlightMax: 64 })).consumers;
    expect([defaults.batchSizeMax, defaults.batchLingerMs]).toEqual([64, 2]);
    expect(loadWith((raw) => (raw.consumers.batchLingerMs = 0)).consumers.batchLingerMs).toBe(0);
    expect(errorOf(() => loadWith((raw) => (raw.consumers.batchSizeMax = 0))).key).toBe('consumers.batchSizeMax');
    expect(errorOf(() => loadWith((raw) => (raw.consumers.batchSizeMax = 1_000))).key).toBe('consumers.batchSizeMax');
    expect(errorOf(() => loadWith((raw) => (raw.consumers.batchLingerMs = -1))).key).toBe('consumers.batchLingerMs');
  });

  it('names a missing required key', () => {
    const err = errorOf(() => loadWith((raw) => delete raw.operators[0].currency));
    expect(err.key).toBe('operators[0].currency');
    expect(err.message).toMatch(/missing|required/);
  });

  it('names a merchant that references an unknown operator', () => {
    const err = errorOf(() => loadWith((raw) => raw.merchants[2].operatorIds.push('vodacom-tz')));
    expect(err.key).toBe('merchants[2].operatorIds[1]');
    expect(err.message).toContain('unknown operator "vodacom-tz"');
  });

  it('names an unknown fee schedule reference and an unknown key', () => {
    expect(errorOf(() => loadWith((raw) => (raw.merchants[0].feeScheduleId = 'gold'))).key).toBe('merchants[0].feeScheduleId');
    expect(errorOf(() => loadWith((raw) => (raw.nats.urll = 'x'))).key).toBe('nats.urll');
  });

  it('agents: a cash-out fee schedule that names nothing, and the wallet cap per KYC tier (optional: no cap)', () => {
    const err = errorOf(() => loadWith((raw) => (raw.operators[1].cashOutFeeScheduleId = 'gold')));
    expect(err.key).toBe('operators[1].cashOutFeeScheduleId');
    expect(err.message).toContain('unknown fee schedule "gold"');
    const config = loadWith((raw) => delete raw.limits.tiers[1].walletBalanceMaxMinor);
    expect(config.operators[0]?.cashOutFeeScheduleId).toBe('cash-out');
    expect(config.operators[1]?.cashOutFeeScheduleId).toBeUndefined();
    expect(config.limits.tiers[0]?.walletBalanceMaxMinor).toBe(10_000_000n);
    expect(config.limits.tiers[1]?.walletBalanceMaxMinor).toBeUndefined();
    expect(errorOf(() => loadWith((raw) => (raw.limits.tiers[0].walletBalanceMaxMinor = -1))).key).toBe('limits.tiers[0].walletBalanceMaxMinor');
  });

  it('credits: payout limits per merchant (absent: none), operators\' API keys, one key id per holder', () => {
    const config = loadWith(() => undefined);
    expect(config.merchants[0]?.payouts).toEqual({ perPayoutMaxMinor: 5_000_000n, perDayMaxMinor: 20_000_000n });
    expect(config.merchants[1]?.payouts).toBeUndefined();
    expect(config.operators[0]?.apiKeys).toEqual([]);
    expect(config.merchantApi.creditWaitMs).toBe(3_000);
    const over = errorOf(() => loadWith((raw) => (raw.merchants[0].payouts = { perPayoutMaxMinor: 3, perDayMaxMinor: 2 })));
    expect(over.key).toBe('merchants[0].payouts.perPayoutMaxMinor');
    const key = { id: 'abcdef0123', sha256: 'a'.repeat(64) };
    const shared = errorOf(() => loadWith((raw) => { raw.merchants[0].apiKeys = [key]; raw.operators[1].apiKeys = [key]; }));
    expect(shared.key).toBe('operators[1].apiKeys[0].id');
    expect(shared.message).toContain('used twice');
    expect(errorOf(() => loadWith((raw) => (raw.operators[0].apiKeys = [{ id: 'x', sha256: 'a' }]))).key).toBe('operators[0].apiKeys[0].id');
  });

  it('refuses the removed airtime merchant key with a message that says why', () => {
    const err = errorOf(() => loadWith((raw) => (raw.ussd.airtimeMerchantIds = { 'safaricom-ke': 'SHOP42' })));
    expect(err.key).toBe('ussd.airtimeMerchantIds');
    expect(err.message).toContain('no longer supported');
    expect(err.message).toContain('operators[].topUp');
  });

  it('names the missing charging API of an http-billed operator', () => {
    expect(errorOf(() => loadWith((raw) => (raw.operators[0].billingAdapter = 'http'))).key).toBe('operators[0].charging');
    // CAMARA needs an OAuth2 token endpoint and client; the secret comes from the environment.
    const http = (charging: object) => (raw: any) => Object.assign(raw.operators[0], { billingAdapter: 'http', charging });
    expect(errorOf(() => loadWith(http({ baseUrl: 'https://op.example', clientId: 'c' }))).key).toBe('operators[0].charging.tokenUrl');
    expect(errorOf(() => loadWith(http({ baseUrl: 'https://op.example', tokenUrl: 'https://op.example/token' }))).key).toBe('operators[0].charging.clientId');
    expect(errorOf(() => loadWith(http({ baseUrl: 'https://op.example', tokenUrl: 'https://op.example/token', clientId: 'c', apiKey: 'k' }))).key).toBe('operators[0].charging.apiKey');
    // Billing, the one component that calls the API, refuses to start without the secret.
    const noSecret = loadWith(http({ baseUrl: 'https://op.example', tokenUrl: 'https://op.example/token', clientId: 'c' }));
    expect(errorOf(() => assertChargingSecrets(noSecret)).key).toBe('operators[0].charging.clientSecret');
    expect(() => assertChargingSecrets(loadWith(http({ baseUrl: 'https://op.example', tokenUrl: 'https://op.example/token', clientId: 'c', clientSecret: 's' })))).not.toThrow();
  });

  it('refuses limits that contradict each other', () => {
    const err = errorOf(() => loadWith((raw) => (raw.limits.tiers[0].dailyMaxMinor = 1)));
    expect(err.key).toBe('limits.tiers[0].perTransactionMaxMinor');
  });

  it('bounds merchant requests and wrong codes per subscriber, with defaults, and names a bad key', () => {
    const config = loadWith((raw) => {
      for (const key of ['merchantOpenRequestsPerSubscriberMax', 'wrongAnswersPerSubscriberMax', 'wrongAnswersWindowMs', 'codeLockoutMs']) delete raw.limits[key];
    });
    expect(config.limits).toMatchObject({
      merchantOpenRequestsPerSubscriberMax: 3, wrongAnswersPerSubscriberMax: 5, wrongAnswersWindowMs: 900_000, codeLockoutMs: 900_000,
    });
    expect(errorOf(() => loadWith((raw) => (raw.limits.codeLockoutMs = 0))).key).toBe('limits.codeLockoutMs');
    expect(errorOf(() => loadWith((raw) => (raw.limits.merchantOpenRequestsPerSubscriberMax = 1_000))).key).toBe('limits.merchantOpenRequestsPerSubscriberMax');
  });

  it('applies environment overrides, and validates them like the file', () => {
    const config = loadWith(() => undefined, {
      DIALPAY__nats__url: 'nats://10.1.2.3:4222',
      DIALPAY__operators__0__smpp__password: 'fromenv',
      DIALPAY__limits__pinAttemptsMax: '4',
    });
    expect(config.nats.url).toBe('nats://10.1.2.3:4222');
    expect(config.operators[0]?.smpp.password).toBe('fromenv');
    expect(config.limits.pinAttemptsMax).toBe(4);
    expect(errorOf(() => loadWith(() => undefined, { DIALPAY__limits__pinAttemptsMax: 'many' })).key).toBe('limits.pinAttemptsMax');
  });

  it('reports YAML that does not parse', () => {
    expect(errorOf(() => loadConfigText('operators: [\n')).message).toMatch(/YAML does not parse/);
  });
});
