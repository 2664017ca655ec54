// A service call of the USSD menus that fails is not swallowed: the screen says unavailable, and the
// service logs it (masked number, the screen, the error) and counts it in
// dialpay_ussd_service_calls_failed_total{operator,call}.
import { describe, expect, it } from 'vitest';
import { captureLog } from '../../support/log-capture.js';
import { runMenu } from '../../../services/ussd/menu.js';
import { UssdMetrics, menuCallFailed } from '../../../services/ussd/service.js';
import type { Facts, MenuCall, MenuContext } from '../../../services/ussd/walk.js';
import { text } from '../../../services/ussd/texts.js';
import { createRegistry } from '../../../runtime/metrics.js';
import { exampleConfigRaw } from '../../support/stack.js';
import { validateConfig } from '../../../cli/config.js';

const config = validateConfig(exampleConfigRaw());
const operator = config.operators[0]!;
const MSISDN = '254700000077';

describe('failed menu calls', () => {
  it('are logged with the masked number, the screen and the error, and counted by call', async () => {
    const registry = createRegistry('ussd');
    const metrics = new UssdMetrics(registry);
    const { lines, log } = captureLog();
    const failures: { call: MenuCall; state: string }[] = [];
    const report = menuCallFailed(metrics, log, operator.id, MSISDN);
    const context: MenuContext = {
      sessionId: 'cf-1', dialogueId: 'cf-1~d1', operator, msisdn: MSISDN, merchants: new Map(), airtimeOffered: false,
      callFailed: (call, state, err) => {
        failures.push({ call, state });
        report(call, state, err);
      },
      services: {
        payments: async (q) => {
          if (q.profile) return { outcome: 1, hasPin: true, language: 'en' };
          throw new Error('payments went away');
        },
        balance: async () => {
          throw new Error('billing went away');
        },
      },
    };
    const facts: Facts = {};
    await runMenu(context, facts, [], 1_000);
    expect((await runMenu(context, facts, ['4', '1'], 1_000)).screen.text).toBe(text('unavailable', 'en'));
    expect(failures).toEqual([{ call: 'balance', state: 'account.balance' }]);

    const counted = await registry.getSingleMetricAsString('dialpay_ussd_service_calls_failed_total');
    expect(counted).toMatch(/dialpay_ussd_service_calls_failed_total\{[^}]*operator="safaricom-ke"[^}]*call="balance"[^}]*\} 1\n?/);
    const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'USSD menu call failed; the screen says unavailable');
    expect(line).toMatchObject({ state: 'account.balance', call: 'balance', msisdn: '2547******77' });
    expect(JSON.stringify(line)).toContain('billing went away');
    expect(lines.join('\n')).not.toContain(MSISDN);
  });

  it('a payments call that fails is reported at its screen too', async () => {
    const failures: { call: MenuCall; state: string }[] = [];
    let profiles = 0;
    const context: MenuContext = {
      sessionId: 'cf-2', dialogueId: 'cf-2~d1', operator, msisdn: MSISDN, merchants: new Map(), airtimeOffered: false,
      callFailed: (call, state) => failures.push({ call, state }),
      services: {
        payments: async () => {
          profiles++;
          throw new Error('payments went away');
        },
        balance: async () => ({ available: false }),
      },
    };
    expect((await runMenu(context, {}, [], 1_000)).screen.end).toBe(true);
    expect(profiles).toBe(1);
    expect(failures).toEqual([{ call: 'payments', state: 'start' }]);
  });
});
