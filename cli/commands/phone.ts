// `dialpay phone`: a phone in this terminal on operator-sim's phone line (cli/phone.ts).
import { PHONE_LINE_DEFAULT } from '../../operator-sim/index.js';
import { runPhone } from '../phone.js';
import type { Command } from '../command.js';

export const phone: Command = {
  needsConfig: false,
  help: [
    ['phone MSISDN [--phone-line HOST:PORT]',
      'a phone in this terminal, attached to operator-sim\'s phone line: type an SMS',
      'to the short code, dial *384# for the USSD menu, read what comes back'],
  ],
  async run({ positionals, values }) {
    // Exit at once on hang-up: an open stdin (a terminal, or a test's pipe) would keep the process alive.
    process.exit(await runPhone(positionals[1],
      { line: values['phone-line'] ?? PHONE_LINE_DEFAULT, input: process.stdin, output: process.stdout }));
  },
};
