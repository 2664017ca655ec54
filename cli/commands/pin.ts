// `dialpay pin reset`: customer care clears a subscriber's PIN and its lock.
import { createLogger } from '../../runtime/log.js';
import { resetPin } from '../../services/payments/index.js';
import { EXIT_USAGE, usageError, type Command } from '../command.js';
import { commandPool } from '../pool.js';

export const pinReset: Command = {
  needsConfig: true,
  help: [
    ['pin reset --operator ID --msisdn NUMBER [--by AGENT]',
      "customer care: clear a subscriber's PIN and its lock (after checking who calls);",
      'they are told by SMS and choose a new PIN at their next USSD dial; refused',
      'while a payment waits for the PIN; the log records AGENT (default: the login)'],
  ],
  async run({ config, values }) {
    const { operator, msisdn } = values;
    if (!operator || !msisdn || !config.operators.some((o) => o.id === operator)) {
      usageError(`dialpay pin reset needs --operator ID (one of: ${config.operators.map((o) => o.id).join(', ')}) and --msisdn NUMBER`);
    }
    const log = createLogger({ level: config.log.level, component: 'pin-reset' });
    const pool = commandPool(config, 'dialpay-pin-reset', log);
    try {
      const result = await resetPin(pool, config, operator, msisdn);
      if (result.kind === 'bad-number') {
        process.stderr.write(`dialpay: "${msisdn}" is not a phone number of ${operator}\n`);
        process.exitCode = EXIT_USAGE;
      } else if (result.kind === 'unknown-subscriber') {
        process.stderr.write(`dialpay: +${result.msisdn} has never used dialpay; there is no PIN to reset\n`);
        process.exitCode = 1;
      } else if (result.kind === 'pin-challenges-open') {
        process.stderr.write(`dialpay: +${result.msisdn} has ${result.count} payment(s) under way that may ask for the PIN;`
          + ' nothing changed.'
          + ` They end within ${Math.ceil(config.limits.challengeTtlMs / 60_000)} min (or the subscriber sends STOP): try again then\n`);
        process.exitCode = 1;
      } else {
        // An audit line: whose PIN, by whom (--by, else the login), and that it was by hand.
        const by = values.by ?? process.env.SUDO_USER ?? process.env.USER ?? 'unknown';
        log.warn({ operator, msisdn: result.msisdn, wasLocked: result.wasLocked, by }, 'PIN reset by customer care');
        process.stdout.write(`PIN of +${result.msisdn} reset${result.wasLocked ? ' (it was locked)' : ''};`
          + ' they were told by SMS and choose a new one at their next USSD dial\n');
      }
    } finally {
      await pool.end();
    }
  },
};
