// The table of `dialpay` commands, by their words ("dlq list"), and the help built from it.
import { COMPONENT_NAMES, type ComponentName, type Config } from '../../runtime/config/index.js';
import { COMPONENTS } from '../components.js';
import { runDev } from '../dev.js';
import { formatHelpEntry, type Command, type HelpEntry } from '../command.js';
import { agent } from './agent.js';
import { careList, careReject, careRelease } from './care-cases.js';
import { dlqList, dlqReplay } from './dlq.js';
import { operatorSim, operatorSimSwap } from './operator-sim.js';
import { paymentReverse } from './payment-reverse.js';
import { phone } from './phone.js';
import { pinReset } from './pin.js';
import { reconcile } from './reconcile.js';
import { runUntilSignal } from './run.js';
import { apiKey, hashPassword, migrate, natsConfig, openapi, provision } from './setup.js';
import { settle } from './settle.js';
import { subscriberBlock, subscriberTier, subscriberUnblock } from './subscriber.js';
import { subscriberShow } from './subscriber-show.js';
import { paymentShow } from './payment.js';
import { webhooksReplay } from './webhooks.js';

/** What each component does, as the help says it. */
const COMPONENT_SUMMARIES: Readonly<Record<ComponentName, string>> = {
  gateway: 'SMPP, USSD and merchant HTTP edges',
  payments: 'SMS commands, challenges, limits, payment state',
  ussd: 'USSD menus',
  billing: 'carrier debits and the ledger',
  settlement: 'merchant payouts and revenue share',
  reconciliation: 'operator charging records against the ledger',
  webhooks: 'signed merchant webhooks, retried for hours',
};

const runAll = (config: Config, configPath: string, afterStop?: () => Promise<void>) =>
  runUntilSignal(config, COMPONENTS.map((c) => c.name), configPath, afterStop);

/** Components, each run until SIGTERM, alone or all together. */
const COMPONENT_COMMANDS: Readonly<Record<string, Command>> = {
  ...Object.fromEntries(COMPONENT_NAMES.map((name): [string, Command] => [name, {
    needsConfig: true,
    help: [[name, COMPONENT_SUMMARIES[name]]],
    accepts: (positionals) => positionals.length === 1,
    run: ({ config, configPath }) => runUntilSignal(config, [name], configPath),
  }])),
  all: {
    needsConfig: true, help: [['all', 'every component in this process, still talking through NATS']],
    run: ({ config, configPath }) => runAll(config, configPath),
  },
};

const dev: Command = {
  needsConfig: true,
  help: [['dev', 'start NATS and PostgreSQL under .data/ when none is reachable,', 'the operator simulator, then every component']],
  run: ({ config, configPath }) => runDev(config, configPath, (c, afterStop) => runAll(c, configPath, afterStop)),
};

/** The other commands, by their words ("dlq list"), in the order the help lists them. */
const OTHER_COMMANDS: Readonly<Record<string, Command>> = {
  migrate, provision, 'nats-config': natsConfig, 'operator-sim': operatorSim,
  'operator-sim swap': operatorSimSwap, phone, dev, 'hash-password': hashPassword, 'api-key': apiKey,
  settle, reconcile, 'webhooks replay': webhooksReplay, 'pin reset': pinReset,
  'subscriber tier': subscriberTier, 'subscriber show': subscriberShow, 'subscriber block': subscriberBlock,
  'subscriber unblock': subscriberUnblock, 'payment show': paymentShow, 'payment reverse': paymentReverse,
  'care list': careList, 'care release': careRelease, 'care reject': careReject,
  agent, 'dlq list': dlqList, 'dlq replay': dlqReplay, openapi,
};

export const COMMANDS: Readonly<Record<string, Command>> = { ...COMPONENT_COMMANDS, ...OTHER_COMMANDS };

const helpOf = (commands: Readonly<Record<string, Command>>) =>
  Object.values(commands).flatMap((c): readonly HelpEntry[] => c.help).map(formatHelpEntry).join('');

export const USAGE = `usage: dialpay <command> [--config FILE]

components (each runs until SIGTERM):
${helpOf(COMPONENT_COMMANDS)}
other commands:
${helpOf(OTHER_COMMANDS)}
--config FILE defaults to $DIALPAY_CONFIG, then ./dialpay.yaml, then ./dialpay.example.yaml.
Environment overrides: DIALPAY__<key>__<key>=value, for example DIALPAY__nats__url=nats://10.0.0.5:4222.
`;

/** The command these words name: two words ("dlq list") before one; undefined when none takes them. */
export function commandOf(positionals: readonly string[]): Command | undefined {
  const [first = '', second] = positionals;
  const words = [...(second === undefined ? [] : [`${first} ${second}`]), first].filter((w) => Object.hasOwn(COMMANDS, w));
  const found = words.length > 0 ? COMMANDS[words[0] as string] : undefined;
  return found && (found.accepts?.(positionals) ?? true) ? found : undefined;
}
