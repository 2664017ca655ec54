// `dialpay operator-sim`: a simulated operator (operator-sim/); `operator-sim swap` tells it of a SIM swap.
import {
  parsePeerPasswords, PHONE_LINE_DEFAULT, SIM_SWAP_ADMIN_PATH, SIM_SWAP_DEV_ORIGIN, startOperatorSim,
} from '../../operator-sim/index.js';
import { isE164, operatorForNumber, toE164 } from '../../runtime/msisdn.js';
import { usageError, type Command } from '../command.js';

export const operatorSim: Command = {
  needsConfig: true,
  help: [
    ['operator-sim [--phone-line HOST:PORT] [--traffic-ms N]',
      'a simulated operator: an SMSC per client-mode operator, an aggregator for',
      'server-mode ones, charging APIs, a few phones that pay every N ms (3000; 0 for',
      'none), and the phone line that `dialpay phone` attaches to (127.0.0.1:9190)'],
  ],
  async run({ config, values }) {
    const trafficMs = Number(values['traffic-ms'] ?? 3_000);
    if (!Number.isInteger(trafficMs) || trafficMs < 0) {
      usageError('dialpay: --traffic-ms must be a whole number of milliseconds, 0 for none');
    }
    const sim = await startOperatorSim(config, {
      trafficIntervalMs: trafficMs, phoneLine: values['phone-line'] ?? PHONE_LINE_DEFAULT,
      peerPasswords: parsePeerPasswords(process.env.DIALPAY_SIM_PEER_PASSWORDS), say: (l) => process.stdout.write(`operator-sim: ${l}\n`),
    });
    const stop = () => void sim.stop().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  },
};

/** `dialpay operator-sim swap`: tells a running simulator (its admin path, loopback only) that a line's SIM was swapped. */
export const operatorSimSwap: Command = {
  needsConfig: true,
  help: [
    ['operator-sim swap --msisdn NUMBER [--at ISO-TIME] [--url URL]',
      "the running simulated operator's SIM Swap API: this line's SIM was swapped now (or",
      'at ISO-TIME); its payments above the operator\'s simSwap.checkAboveMinor are then held.',
      `URL: the operator's simSwap address; under \`dialpay dev\` ${SIM_SWAP_DEV_ORIGIN}`],
  ],
  async run({ config, values }) {
    const operator = config.operators[0];
    const e164 = values.msisdn && operator ? toE164(values.msisdn, operator.countryCallingCode) : null;
    if (!e164 || !isE164(e164)) usageError('dialpay operator-sim swap needs --msisdn NUMBER (E.164, such as +254700000123)');
    const owner = operatorForNumber(config.operators, e164);
    const origin = values.url ?? (owner?.simSwap ? new URL(owner.simSwap.url).origin : SIM_SWAP_DEV_ORIGIN);
    const at = values.at ?? new Date().toISOString();
    if (Number.isNaN(Date.parse(at))) usageError(`dialpay operator-sim swap: --at "${at}" is not an ISO time such as 2026-01-31T09:00:00Z`);
    let res: Response;
    try {
      res = await fetch(new URL(SIM_SWAP_ADMIN_PATH, origin), {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ phoneNumber: `+${e164}`, at }), signal: AbortSignal.timeout(5_000),
      });
    } catch (err) {
      const why = (err as Error).name;
      process.stderr.write(`dialpay: no simulated SIM Swap API answers at ${origin} (${why}); is \`dialpay dev\` running?\n`);
      process.exitCode = 1;
      return;
    }
    const body = (await res.json().catch(() => ({}))) as { swappedAt?: string; message?: string };
    if (res.status !== 200) {
      process.stderr.write(`dialpay: the simulator refused the swap: HTTP ${res.status} ${body.message ?? ''}\n`);
      process.exitCode = 1;
      return;
    }
    process.stdout.write(`SIM of +${e164} swapped at ${body.swappedAt ?? at} (simulator at ${origin})\n`);
  },
};
