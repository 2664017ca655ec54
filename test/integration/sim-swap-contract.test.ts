// The CAMARA SIM Swap contract: the operator simulator is driven over real HTTP through the
// scenarios of CAMARA's own Gherkin features (../shared/camara/sim-swap/code/Test_definitions/:
// checkSimSwap and retrieveSimSwapDate) that apply to it, and every exchange the simulator
// recorded is validated against the official definition (SIM Swap 2.1.0, vendored in
// test/contracts/camara/sim-swap.yaml) with ajv, after @apidevtools/swagger-parser dereferenced
// it: the path under the definition's `servers` path, the request body (unless made invalid on
// purpose, when it must not conform), the x-correlator echoed, the status listed for the
// operation, and the response body against its schema. The carrier-billing contract test
// (test/integration/billing/camara-contract.test.ts) does the same for the charging API.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimSwapApiSimulator, SIM_SWAP_BASE, type Exchange } from '../../operator-sim/index.js';
import { loadSimSwapDefinition, simSwapViolations, type SimSwapDefinition } from '../support/sim-swap-schema.js';
import { ROOT } from '../support/stack.js';

const DEFINITION = join(ROOT, 'test', 'contracts', 'camara', 'sim-swap.yaml');
/** Where the project is given it; when present, the vendored copy must not have drifted from it. */
const GIVEN = join(ROOT, '..', 'shared', 'camara', 'sim-swap', 'code', 'API_definitions', 'sim-swap.yaml');
const SECRET = 'contract-secret';
const HOUR_MS = 3_600_000;
/** x-correlator prefix of a request made invalid on purpose. */
const INVALID_ON_PURPOSE = 'invalid-';

const api = new SimSwapApiSimulator({ clientId: 'dialpay', clientSecret: SECRET, record: true });
/** The same operator with a 30-day monitored period (local regulation). */
const limited = new SimSwapApiSimulator({ monitoredPeriodDays: 30, record: true });
let doc: SimSwapDefinition;
let token: string;
let limitedToken: string;
let sequence = 0;

/** What in `x` breaks the definition (test/support/sim-swap-schema.ts); a request made invalid on purpose must not conform. */
const violations = (x: Exchange): string[] =>
  simSwapViolations(doc, x, { invalidOnPurpose: (e) => String(e.requestHeaders['x-correlator']).startsWith(INVALID_ON_PURPOSE) });

interface Call {
  readonly body?: unknown;
  /** The request is made not to conform on purpose (a 400 scenario). */
  readonly invalid?: boolean;
  /** The Authorization header; the simulator's two-legged token when absent, none when null. */
  readonly authorization?: string | null;
  readonly sim?: SimSwapApiSimulator;
  readonly rawBody?: string;
}

async function call(operation: 'check' | 'retrieve-date', c: Call = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const sim = c.sim ?? api;
  const xc = `${c.invalid ? INVALID_ON_PURPOSE : ''}sim-swap-${++sequence}`;
  const authorization = c.authorization === undefined ? `Bearer ${sim === api ? token : limitedToken}` : c.authorization;
  const res = await fetch(`${sim.url}/${operation}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-correlator': xc, ...(authorization === null ? {} : { authorization }) },
    body: c.rawBody ?? JSON.stringify(c.body ?? {}),
  });
  const json = await res.json();
  expect(res.headers.get('x-correlator')).toBe(xc);
  return { status: res.status, json, headers: res.headers };
}

async function clientToken(sim: SimSwapApiSimulator, basic?: string): Promise<string> {
  const res = await fetch(sim.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(basic ? { authorization: `Basic ${basic}` } : {}) },
    body: 'grant_type=client_credentials',
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

const hoursAgo = (hours: number): Date => new Date(Date.now() - hours * HOUR_MS);
/** Phone numbers of the scenarios (digits, no '+'). */
const SWAPPED_HOUR_AGO = '254700000101';
const NEVER_SWAPPED = '254700000102';
const SWAPPED_LONG_AGO = '254700000103';
const NO_SIM = '254700000104';
const IOT_LINE = '254700000105';
const UNKNOWN = '254700000199';

beforeAll(async () => {
  if (existsSync(GIVEN)) expect(readFileSync(DEFINITION, 'utf8')).toBe(readFileSync(GIVEN, 'utf8'));
  doc = await loadSimSwapDefinition();
  await api.start();
  await limited.start();
  token = await clientToken(api, Buffer.from(`dialpay:${SECRET}`).toString('base64'));
  limitedToken = await clientToken(limited);
  api.addLine(SWAPPED_HOUR_AGO, hoursAgo(5_000));
  api.simulateSwap(SWAPPED_HOUR_AGO, hoursAgo(1));
  api.addLine(NEVER_SWAPPED, hoursAgo(5_000));
  api.addLine(SWAPPED_LONG_AGO, hoursAgo(5_000));
  api.simulateSwap(SWAPPED_LONG_AGO, hoursAgo(300));
  api.addLine(NO_SIM, null);
  api.addLine(IOT_LINE, hoursAgo(5_000));
  api.notApplicable(IOT_LINE);
  limited.addLine(SWAPPED_LONG_AGO, hoursAgo(5_000));
  limited.simulateSwap(SWAPPED_LONG_AGO, hoursAgo(40 * 24));
});

afterAll(async () => {
  await api.stop();
  await limited.stop();
});

describe('checkSimSwap (sim-swap-checkSimSwap.feature)', () => {
  it('check_sim_swap_1/2: a swap within the default 240 hours is swapped, answered as JSON with the x-correlator', async () => {
    const r = await call('check', { body: { phoneNumber: `+${SWAPPED_HOUR_AGO}` } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(r.json).toEqual({ swapped: true });
  });

  it('check_sim_swap_3: maxAge at or above the hours since the swap is swapped', async () => {
    for (const [i, hours] of [260, 120, 24, 12].entries()) {
      const msisdn = `25470000020${i}`;
      api.addLine(msisdn, hoursAgo(5_000));
      api.simulateSwap(msisdn, hoursAgo(hours - 0.5));
      expect((await call('check', { body: { phoneNumber: `+${msisdn}`, maxAge: hours } })).json).toEqual({ swapped: true });
    }
  });

  it('check_sim_swap_4/5: a swap before maxAge (default 240, or the hours since it minus 1) is not swapped', async () => {
    expect((await call('check', { body: { phoneNumber: `+${SWAPPED_LONG_AGO}` } })).json).toEqual({ swapped: false });
    expect((await call('check', { body: { phoneNumber: `+${SWAPPED_LONG_AGO}`, maxAge: 299 } })).json).toEqual({ swapped: false });
    expect((await call('check', { body: { phoneNumber: `+${SWAPPED_LONG_AGO}`, maxAge: 301 } })).json).toEqual({ swapped: true });
  });

  it('check_sim_swap_6/7: never swapped, activated before maxAge, is not swapped; a line without a SIM neither', async () => {
    expect((await call('check', { body: { phoneNumber: `+${NEVER_SWAPPED}` } })).json).toEqual({ swapped: false });
    for (const maxAge of [259, 119, 23, 11, 2_400]) {
      expect((await call('check', { body: { phoneNumber: `+${NEVER_SWAPPED}`, maxAge } })).json).toEqual({ swapped: false });
    }
    expect((await call('check', { body: { phoneNumber: `+${NO_SIM}`, maxAge: 2_400 } })).json).toEqual({ swapped: false });
  });

  it('a new subscription counts as a swap (the definition): a line activated an hour ago is swapped', async () => {
    api.simulateSwap('254700000300', hoursAgo(1));
    expect((await call('check', { body: { phoneNumber: '+254700000300', maxAge: 2 } })).json).toEqual({ swapped: true });
  });

  it('maxAge bounds: 1 and 2400 are taken; 0, 2401 and 100000 are 400 OUT_OF_RANGE (check_sim_swap_400.2)', async () => {
    expect((await call('check', { body: { phoneNumber: `+${SWAPPED_HOUR_AGO}`, maxAge: 1 } })).status).toBe(200);
    expect((await call('check', { body: { phoneNumber: `+${SWAPPED_HOUR_AGO}`, maxAge: 2_400 } })).status).toBe(200);
    for (const maxAge of [0, 2_401, 100_000]) {
      const r = await call('check', { body: { phoneNumber: `+${SWAPPED_HOUR_AGO}`, maxAge }, invalid: true });
      expect(r.status).toBe(400);
      expect(r.json).toMatchObject({ status: 400, code: 'OUT_OF_RANGE' });
      expect(r.json.message).toMatch(/2400/);
    }
  });

  it('check_sim_swap_400.1: a maxAge that is not an integer is 400 INVALID_ARGUMENT', async () => {
    for (const maxAge of ['240', 1.5, null, true]) {
      const r = await call('check', { body: { phoneNumber: `+${SWAPPED_HOUR_AGO}`, maxAge }, invalid: true });
      expect(r.status).toBe(400);
      expect(r.json).toMatchObject({ status: 400, code: 'INVALID_ARGUMENT' });
    }
  });

  it('check_sim_swap_400.3: above the operator\'s monitored period is 400 OUT_OF_RANGE naming it', async () => {
    const r = await call('check', { sim: limited, body: { phoneNumber: `+${SWAPPED_LONG_AGO}`, maxAge: 31 * 24 } });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ status: 400, code: 'OUT_OF_RANGE' });
    expect(r.json.message).toMatch(/30 days/);
    expect((await call('check', { sim: limited, body: { phoneNumber: `+${SWAPPED_LONG_AGO}`, maxAge: 30 * 24 } })).json).toEqual({ swapped: false });
  });
});

describe('retrieveSimSwapDate (sim-swap-retrieveSimSwapDate.feature)', () => {
  it('retrieve_sim_swap_date_1/2: a swapped line answers the swap\'s timestamp', async () => {
    const r = await call('retrieve-date', { body: { phoneNumber: `+${SWAPPED_HOUR_AGO}` } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(r.json).toEqual({ latestSimChange: api.latestSimChange(SWAPPED_HOUR_AGO)?.toISOString() });
    expect(Date.now() - Date.parse(r.json.latestSimChange)).toBeGreaterThan(0.9 * HOUR_MS);
  });

  it('retrieve_sim_swap_date_3: a line never swapped answers its activation', async () => {
    const r = await call('retrieve-date', { body: { phoneNumber: `+${NEVER_SWAPPED}` } });
    expect(Date.now() - Date.parse(r.json.latestSimChange)).toBeGreaterThan(4_999 * HOUR_MS);
  });

  it('retrieve_sim_swap_date_4: a number with no SIM answers null', async () => {
    expect((await call('retrieve-date', { body: { phoneNumber: `+${NO_SIM}` } })).json).toEqual({ latestSimChange: null });
  });

  it('retrieve_sim_swap_date_5: a change before the monitored period answers null with monitoredPeriod', async () => {
    const r = await call('retrieve-date', { sim: limited, body: { phoneNumber: `+${SWAPPED_LONG_AGO}` } });
    expect(r.json).toEqual({ latestSimChange: null, monitoredPeriod: 30 });
  });

  it('simulateSwap moves the date: a swap now is what retrieve-date and check tell next', async () => {
    const at = new Date();
    api.simulateSwap(NEVER_SWAPPED, at);
    expect((await call('retrieve-date', { body: { phoneNumber: `+${NEVER_SWAPPED}` } })).json).toEqual({ latestSimChange: at.toISOString() });
    expect((await call('check', { body: { phoneNumber: `+${NEVER_SWAPPED}`, maxAge: 1 } })).json).toEqual({ swapped: true });
  });
});

describe('errors both operations share', () => {
  const operations = ['check', 'retrieve-date'] as const;

  it('401.1/401.2/401.3: no Authorization, an expired or an unknown token is 401 UNAUTHENTICATED', async () => {
    const expiring = new SimSwapApiSimulator({ record: true });
    await expiring.start();
    try {
      const stale = await clientToken(expiring);
      expiring.expireTokens();
      for (const operation of operations) {
        for (const authorization of [null, 'Bearer not-a-token', `Bearer ${stale}`]) {
          const sim = authorization === `Bearer ${stale}` ? expiring : api;
          const r = await call(operation, { sim, authorization, body: { phoneNumber: `+${SWAPPED_HOUR_AGO}` } });
          expect(r.status).toBe(401);
          expect(r.json).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
          expect(r.json.message).toMatch(/credentials/);
        }
      }
      expect(expiring.exchanges.filter((x) => x.path.startsWith(SIM_SWAP_BASE)).flatMap(violations)).toEqual([]);
    } finally {
      await expiring.stop();
    }
  });

  it('C02.01: a phoneNumber not E.164, or a body that is not an object, is 400 INVALID_ARGUMENT', async () => {
    for (const operation of operations) {
      for (const phoneNumber of ['254700000101', '+0254700000101', '+2547', '+25470000010112345', 254700000101]) {
        const r = await call(operation, { body: { phoneNumber }, invalid: true });
        expect(r.status).toBe(400);
        expect(r.json).toMatchObject({ status: 400, code: 'INVALID_ARGUMENT' });
      }
      for (const rawBody of ['not json', '[]']) {
        expect((await call(operation, { rawBody, invalid: true })).json).toMatchObject({ status: 400, code: 'INVALID_ARGUMENT' });
      }
    }
  });

  it('C02.02: a number the operator does not have is 404 IDENTIFIER_NOT_FOUND', async () => {
    for (const operation of operations) {
      const r = await call(operation, { body: { phoneNumber: `+${UNKNOWN}` } });
      expect(r.status).toBe(404);
      expect(r.json).toMatchObject({ status: 404, code: 'IDENTIFIER_NOT_FOUND' });
    }
  });

  it('C02.03/C02.04: a number beside a three-legged token is 422 UNNECESSARY_IDENTIFIER; none with a two-legged one, MISSING_IDENTIFIER', async () => {
    const threeLegged = `Bearer ${api.tokenFor(SWAPPED_HOUR_AGO)}`;
    for (const operation of operations) {
      const both = await call(operation, { authorization: threeLegged, body: { phoneNumber: `+${SWAPPED_HOUR_AGO}` } });
      expect(both.status).toBe(422);
      expect(both.json).toMatchObject({ status: 422, code: 'UNNECESSARY_IDENTIFIER' });
      const neither = await call(operation, { body: operation === 'check' ? { maxAge: 24 } : {} });
      expect(neither.status).toBe(422);
      expect(neither.json).toMatchObject({ status: 422, code: 'MISSING_IDENTIFIER' });
    }
    expect((await call('check', { authorization: threeLegged, body: { maxAge: 2 } })).json).toEqual({ swapped: true });
    expect((await call('retrieve-date', { authorization: threeLegged })).json.latestSimChange).toEqual(expect.any(String));
  });

  it('C02.05: a line the service is not offered to is 422 SERVICE_NOT_APPLICABLE', async () => {
    for (const operation of operations) {
      const r = await call(operation, { body: { phoneNumber: `+${IOT_LINE}` } });
      expect(r.status).toBe(422);
      expect(r.json).toMatchObject({ status: 422, code: 'SERVICE_NOT_APPLICABLE' });
    }
  });
});

describe('the definition', () => {
  it('every exchange above conforms to sim-swap.yaml (paths, requests, statuses, response bodies)', () => {
    const exchanges = [...api.exchanges, ...limited.exchanges].filter((x) => x.path.startsWith(SIM_SWAP_BASE));
    expect(exchanges.length).toBeGreaterThan(60);
    expect(new Set(exchanges.map((x) => x.status))).toEqual(new Set([200, 400, 401, 404, 422]));
    expect(exchanges.flatMap(violations)).toEqual([]);
  });

  it('the validator has teeth: a wrong body, an undocumented status and another path are caught', () => {
    const [sample] = api.exchanges.filter((x) => x.path === `${SIM_SWAP_BASE}/check` && x.status === 200);
    if (!sample) throw new Error('no check exchange recorded');
    expect(violations({ ...sample, responseText: '{"swapped":"yes"}' }).join()).toMatch(/response/);
    expect(violations({ ...sample, status: 409 }).join()).toMatch(/not a documented response/);
    expect(violations({ ...sample, path: '/sim-swap/v1/check' }).join()).toMatch(/server path/);
    expect(violations({ ...sample, responseText: '{"status":400,"code":"NOT_A_CODE","message":"x"}', status: 400 }).join()).toMatch(/allowed values/);
  });
});
