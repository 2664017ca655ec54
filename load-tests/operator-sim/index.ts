// `dialpay operator-sim`: a simulated operator for every client-mode operator
// in the config (an SMSC the gateway binds to) with a small population of
// phones that text the short code now and then. Used by `make run`, tests and
// benchmarks. The charging API and USSD aggregator join it with issues 4 and 5.
import type { Config } from '../../runtime/config/index.js';
import { SmscSimulator } from './smsc.js';

export { SmscSimulator } from './smsc.js';

export interface OperatorSim {
  readonly smscs: ReadonlyMap<string, SmscSimulator>;
  stop(): Promise<void>;
}

export interface OperatorSimOptions {
  /** Time between messages from the simulated phones; 0 for none. */
  readonly trafficIntervalMs: number;
  readonly say: (line: string) => void;
}

const PHONE_COUNT = 5;
const COMMANDS = ['BAL', 'HELP', 'PAY SHOP42 150 coffee', 'SOLDE', 'AIDE'];

export async function startOperatorSim(config: Config, options: OperatorSimOptions): Promise<OperatorSim> {
  const smscs = new Map<string, SmscSimulator>();
  for (const operator of config.operators) {
    if (operator.smpp.mode !== 'client') continue;
    const smsc = new SmscSimulator({ host: operator.smpp.host, port: operator.smpp.port, systemId: operator.smpp.systemId, password: operator.smpp.password, receiptDelayMs: 200 });
    await smsc.start();
    smscs.set(operator.id, smsc);
    options.say(`SMSC for ${operator.id} listening on ${operator.smpp.host}:${smsc.port}`);
  }
  let turn = 0;
  const timer = options.trafficIntervalMs > 0
    ? setInterval(() => {
        for (const [operatorId, smsc] of smscs) {
          if (smsc.boundSessions === 0) continue;
          const operator = config.operators.find((o) => o.id === operatorId);
          if (!operator) continue;
          const phone = `${operator.countryCallingCode}7${String(100_000_000 + (turn % PHONE_COUNT)).slice(1)}`;
          const text = COMMANDS[turn % COMMANDS.length] as string;
          turn++;
          smsc.sendFromPhone(phone, operator.shortCodes[0] as string, text).then(
            (statuses) => options.say(`phone +${phone} -> ${operator.shortCodes[0]}: "${text}" ${statuses.every((s) => s === 0) ? 'accepted, durable in NATS' : `answered 0x${statuses[0]?.toString(16)}`}`),
            (err: Error) => options.say(`phone +${phone}: ${err.message}`),
          );
        }
      }, options.trafficIntervalMs)
    : null;
  for (const smsc of smscs.values()) {
    const seen = { n: 0 };
    setInterval(() => {
      for (; seen.n < smsc.submitted.length; seen.n++) {
        const m = smsc.submitted[seen.n];
        if (m) options.say(`phone +${m.destination} received: "${m.text}"`);
      }
    }, 250).unref();
  }
  return {
    smscs,
    stop: async () => {
      if (timer) clearInterval(timer);
      await Promise.all([...smscs.values()].map((s) => s.stop()));
    },
  };
}
