// `dialpay operator-sim`: a simulated operator (operator-sim/).
import { parsePeerPasswords, PHONE_LINE_DEFAULT, startOperatorSim } from '../../operator-sim/index.js';
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
