// `dialpay dev` (make run) tries the SIM-swap check out: every operator without a simSwap section gets
// one pointing at the simulated CAMARA SIM Swap API (operator-sim/sim-swap-servers.ts) with a client
// secret made for this run, so a newcomer can simulate a swap and see the next payment held.
import { randomBytes } from 'node:crypto';
import type { Config } from '../runtime/config/index.js';
import { formatAmount } from '../runtime/money.js';
import { SIM_SWAP_DEV_ORIGIN } from '../operator-sim/index.js';

/** Payments of this many minor units or more are checked (100.00 in a two-decimal currency): the demo's small ones are not. */
const DEV_CHECK_ABOVE_MINOR = 10_000n;
const DEV_MAX_AGE_HOURS = 72;

export function withDevSimSwap(config: Config): Config {
  const clientSecret = randomBytes(18).toString('base64url');
  const operators = config.operators.map((operator) => (operator.simSwap ? operator : {
    ...operator,
    simSwap: {
      url: `${SIM_SWAP_DEV_ORIGIN}/sim-swap/v2`, tokenUrl: `${SIM_SWAP_DEV_ORIGIN}/oauth2/token`, clientId: 'dialpay-dev', clientSecret,
      scope: '', timeoutMs: 2_000, tokenRefreshMarginMs: 30_000, attemptsMax: 2, retryDelayMs: 100,
      maxAgeHours: DEV_MAX_AGE_HOURS, checkAboveMinor: DEV_CHECK_ABOVE_MINOR, onUnavailable: 'hold' as const,
    },
  }));
  return { ...config, operators };
}

/** dialpay dev's start-up lines: which payments are checked, and how to simulate a swap. */
export function devSimSwapLines(config: Config): string[] {
  return config.operators.flatMap((o) => (o.simSwap ? [
    `SIM swap (${o.id}): payments of ${formatAmount(o.simSwap.checkAboveMinor, o.currency)} or more are checked for a swap in the last `
      + `${o.simSwap.maxAgeHours} h; simulate one with \`dialpay operator-sim swap --msisdn +${o.countryCallingCode}700000123\`, `
      + 'then pay from that phone: the payment is held for customer care (an SMS says so)',
  ] : []));
}
