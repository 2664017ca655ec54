// Trying the SIM-swap check out: `dialpay dev` gives every operator a simSwap section pointing at the
// simulated CAMARA SIM Swap API (cli/dev-sim-swap.ts), `dialpay operator-sim` serves it
// (operator-sim/sim-swap-servers.ts), and `dialpay operator-sim swap` tells the running simulator
// that a line's SIM was swapped, through its loopback-only admin path.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort } from '../../runtime/engines/index.js';
import { validateConfig } from '../../cli/config.js';
import { devSimSwapLines, withDevSimSwap } from '../../cli/dev-sim-swap.js';
import { SIM_SWAP_ADMIN_PATH, SIM_SWAP_DEV_ORIGIN, startSimSwapApis, type SimSwapApiSimulator } from '../../operator-sim/index.js';
import { exampleConfigRaw } from '../support/stack.js';
import { runTs } from '../support/child.js';

const PHONE = '254700000123';
let origin: string;
let apis: Map<string, SimSwapApiSimulator>;
let configPath: string;
const said: string[] = [];

beforeAll(async () => {
  origin = `http://127.0.0.1:${await freePort()}`;
  const raw = exampleConfigRaw() as any;
  raw.operators[0].simSwap = { url: `${origin}/sim-swap/v2`, tokenUrl: `${origin}/oauth2/token`, clientId: 'dialpay', clientSecret: 'x' };
  raw.operators[1].simSwap = { url: `${origin}/sim-swap/v2`, tokenUrl: `${origin}/oauth2/token`, clientId: 'dialpay', clientSecret: 'x' };
  apis = await startSimSwapApis(validateConfig(structuredClone(raw)), (l) => said.push(l));
  configPath = join(mkdtempSync(join(tmpdir(), 'dialpay-sim-swap-')), 'dialpay.yaml');
  writeFileSync(configPath, stringify(raw));
});

afterAll(async () => {
  await Promise.all([...new Set(apis?.values() ?? [])].map((a) => a.stop()));
});

describe('the simulated SIM Swap API under dialpay dev', () => {
  it('dev gives every operator without one a simSwap section at the simulator, and says how to simulate a swap', () => {
    const config = withDevSimSwap(validateConfig(exampleConfigRaw()));
    for (const operator of config.operators) {
      expect(operator.simSwap).toMatchObject({ url: `${SIM_SWAP_DEV_ORIGIN}/sim-swap/v2`, onUnavailable: 'hold', checkAboveMinor: 10_000n });
      expect((operator.simSwap?.clientSecret ?? '').length).toBeGreaterThanOrEqual(16);
    }
    expect(devSimSwapLines(config).join('\n')).toContain('dialpay operator-sim swap --msisdn +254700000123');
  });

  it('operators sharing an address share one server; a line it was never told of exists, never swapped', async () => {
    expect(new Set(apis.values()).size).toBe(1);
    expect(said.join('\n')).toContain(`dialpay operator-sim swap --msisdn +${PHONE} --url ${origin}`);
    const api = apis.get('safaricom-ke') as SimSwapApiSimulator;
    const token = (await (await fetch(api.tokenUrl, {
      method: 'POST', headers: { authorization: `Basic ${Buffer.from('dialpay:x').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials',
    })).json() as { access_token: string }).access_token;
    const check = async () => (await (await fetch(`${api.url}/check`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ phoneNumber: `+${PHONE}`, maxAge: 24 }),
    })).json() as { swapped: boolean }).swapped;
    expect(await check()).toBe(false);

    const cli = runTs('cli/dialpay.ts', ['operator-sim', 'swap', '--msisdn', `+${PHONE}`, '--url', origin, '--config', configPath]);
    expect(await cli.exited()).toBe(0);
    expect(cli.stdout()).toContain(`SIM of +${PHONE} swapped at`);
    expect(await check()).toBe(true);
    expect(Date.now() - (api.latestSimChange(PHONE)?.getTime() ?? 0)).toBeLessThan(60_000);
  });

  it('--at sets when; a bad number or time is refused, and the admin path wants a well-formed body', async () => {
    const at = new Date(Date.now() - 30 * 3_600_000).toISOString();
    const cli = runTs('cli/dialpay.ts', ['operator-sim', 'swap', '--msisdn', '+254700000124', '--at', at, '--url', origin, '--config', configPath]);
    expect(await cli.exited()).toBe(0);
    expect(apis.get('safaricom-ke')?.latestSimChange('254700000124')?.toISOString()).toBe(at);
    const bad = runTs('cli/dialpay.ts', ['operator-sim', 'swap', '--msisdn', 'nope', '--url', origin, '--config', configPath]);
    expect(await bad.exited()).toBe(64);
    const res = await fetch(`${origin}${SIM_SWAP_ADMIN_PATH}`, { method: 'POST', body: JSON.stringify({ phoneNumber: '0700' }) });
    expect(res.status).toBe(400);
  });
});
