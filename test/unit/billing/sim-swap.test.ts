// What billing makes of a SIM Swap API's answer (services/billing/sim-swap.ts holdFor), and that an
// operator with the API needs its OAuth2 client secret from the environment before billing starts.
import { describe, expect, it } from 'vitest';
import { assertChargingSecrets } from '../../../services/billing/index.js';
import { holdFor, SIM_SWAP_HOLD, SIM_SWAP_UNAVAILABLE_HOLD } from '../../../services/billing/sim-swap.js';
import { configErrorOf, loadExampleWith } from '../../support/config.js';

const simSwap = (onUnavailable?: 'allow' | 'hold') => ({
  url: 'https://op.example/sim-swap/v2', tokenUrl: 'https://op.example/oauth2/token', clientId: 'dialpay',
  ...(onUnavailable ? { onUnavailable } : {}),
});
const operatorWith = (onUnavailable?: 'allow' | 'hold') => {
  const operator = loadExampleWith((raw) => Object.assign(raw.operators[0], { simSwap: simSwap(onUnavailable) })).operators[0];
  if (!operator) throw new Error('the example config has no operator');
  return operator;
};

describe('holdFor', () => {
  it('holds a swapped line, whatever onUnavailable says; lets a line not swapped go on', () => {
    for (const mode of ['allow', 'hold'] as const) {
      expect(holdFor(operatorWith(mode), { kind: 'swapped' })).toBe(SIM_SWAP_HOLD);
      expect(holdFor(operatorWith(mode), { kind: 'not-swapped' })).toBeNull();
    }
  });

  it('an API with no answer holds by default and with hold, lets the payment go on with allow', () => {
    const unavailable = { kind: 'unavailable', detail: 'HTTP 503' } as const;
    expect(holdFor(operatorWith(), unavailable)).toBe(SIM_SWAP_UNAVAILABLE_HOLD);
    expect(holdFor(operatorWith('hold'), unavailable)).toBe(SIM_SWAP_UNAVAILABLE_HOLD);
    expect(holdFor(operatorWith('allow'), unavailable)).toBeNull();
  });
});

describe('simSwap config', () => {
  it('billing refuses to start without the SIM Swap API\'s client secret, naming the key and its variable', () => {
    const config = loadExampleWith((raw) => Object.assign(raw.operators[1], { simSwap: simSwap() }));
    const err = configErrorOf(() => assertChargingSecrets(config));
    expect(err.key).toBe('operators[1].simSwap.clientSecret');
    expect(err.message).toContain('DIALPAY__operators__1__simSwap__clientSecret');
    const withSecret = loadExampleWith((raw) => Object.assign(raw.operators[1], { simSwap: simSwap() }),
      { DIALPAY__operators__1__simSwap__clientSecret: 's3cret' });
    expect(() => assertChargingSecrets(withSecret)).not.toThrow();
  });

  it('bounds every setting, naming the key', () => {
    const bad = (patch: object) =>
      configErrorOf(() => loadExampleWith((raw) => Object.assign(raw.operators[0], { simSwap: { ...simSwap(), ...patch } }))).key;
    expect(bad({ maxAgeHours: 0 })).toBe('operators[0].simSwap.maxAgeHours');
    expect(bad({ maxAgeHours: 2_401 })).toBe('operators[0].simSwap.maxAgeHours');
    expect(bad({ checkAboveMinor: -1 })).toBe('operators[0].simSwap.checkAboveMinor');
    expect(bad({ timeoutMs: 60_000 })).toBe('operators[0].simSwap.timeoutMs');
    expect(bad({ onUnavailable: 'maybe' })).toBe('operators[0].simSwap.onUnavailable');
    expect(bad({ url: 'not a url' })).toBe('operators[0].simSwap.url');
  });
});
