// The SIM Swap API servers `dialpay operator-sim` runs: one per address among the operators whose
// config has a simSwap section on this machine's loopback (`dialpay dev` gives every operator one at
// SIM_SWAP_DEV_ORIGIN: cli/dev-sim-swap.ts). Operators sharing an address share a server (lines are
// told apart by number). A server that cannot listen leaves the rest of the simulator running.
import type { Config } from '../runtime/config/index.js';
import { isLoopbackHost } from '../runtime/config/fields.js';
import { SIM_SWAP_BASE, SimSwapApiSimulator } from './sim-swap.js';

/** Where `dialpay dev` serves the simulated SIM Swap API, and where `dialpay operator-sim swap` looks by default. */
export const SIM_SWAP_DEV_ORIGIN = 'http://127.0.0.1:9191';
/** Demo lines the simulator was never told of: their SIM counts as activated this long ago (no swap). */
const UNKNOWN_LINE_AGE_MS = 365 * 24 * 3_600_000;

export async function startSimSwapApis(config: Config, say: (line: string) => void): Promise<Map<string, SimSwapApiSimulator>> {
  const byOrigin = new Map<string, SimSwapApiSimulator | null>();
  const byOperator = new Map<string, SimSwapApiSimulator>();
  for (const operator of config.operators) {
    const simSwap = operator.simSwap;
    if (!simSwap) continue;
    const url = new URL(simSwap.url);
    if (!isLoopbackHost(url.hostname) || url.pathname.replace(/\/+$/, '') !== SIM_SWAP_BASE) {
      say(`SIM Swap API for ${operator.id} at ${simSwap.url} is the operator's own: not simulated`);
      continue;
    }
    if (!byOrigin.has(url.origin)) {
      const api = new SimSwapApiSimulator({
        host: url.hostname, port: Number(url.port || 80), clientId: simSwap.clientId, clientSecret: simSwap.clientSecret,
        unknownLinesActivatedAt: new Date(Date.now() - UNKNOWN_LINE_AGE_MS),
      });
      byOrigin.set(url.origin, await api.start().then(() => api, (err: Error) => {
        say(`SIM Swap API on ${url.origin} off: ${err.message}`);
        return null;
      }));
    }
    const api = byOrigin.get(url.origin);
    if (!api) continue;
    byOperator.set(operator.id, api);
    say(`CAMARA SIM Swap API for ${operator.id} listening on ${simSwap.url}; simulate a swap with `
      + `\`dialpay operator-sim swap --msisdn +${operator.countryCallingCode}700000123 --url ${url.origin}\``);
  }
  return byOperator;
}
