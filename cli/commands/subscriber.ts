// `dialpay subscriber tier`: customer care sets a subscriber's KYC tier, after checking their documents;
// `dialpay subscriber block` / `unblock`: customer care stops money leaving a line, and lets it again.
import { createLogger } from '../../runtime/log.js';
import { commandPool } from '../pool.js';
import {
  blockSubscriber, setKycTier, unblockSubscriber, type KycTierResult, type SubscriberBlockResult,
} from '../../services/payments/index.js';
import { EXIT_USAGE, usageError, type Command } from '../command.js';

const TIER_DIGITS = /^\d{1,2}$/;

/** The line the command prints (stdout) or its refusal (stderr), with its exit code. */
function outcome(result: KycTierResult, operator: string, number: string): { out?: string; err?: string; code: number } {
  switch (result.kind) {
    case 'changed':
      return { code: 0,
        out: `KYC tier of +${result.msisdn}: ${result.fromTier} -> ${result.toTier}; its limits apply from the next payment` };
    case 'unchanged':
      return { code: 0, out: `KYC tier of +${result.msisdn}: already ${result.tier}; unchanged, nothing recorded` };
    case 'unknown-tier':
      return { code: EXIT_USAGE, err: `no such KYC tier; the config's limits.tiers are: ${result.tiers.join(', ')}` };
    case 'bad-number':
      return { code: EXIT_USAGE, err: `"${number}" is not a phone number of ${operator}` };
    case 'missing':
      return { code: EXIT_USAGE, err: `--${result.field} must not be empty` };
  }
}

export const subscriberTier: Command = {
  needsConfig: true,
  help: [
    ['subscriber tier --operator ID --msisdn NUMBER --tier T --by AGENT --evidence REF',
      "customer care: set a subscriber's KYC tier (one of the config's limits.tiers)",
      'after checking their documents; REF: where the evidence is kept. Its limits apply',
      'from the next payment; a lower tier takes no money. Each change is audited'],
  ],
  async run({ config, values }) {
    const { operator, msisdn, tier, by, evidence } = values;
    if (!operator || !msisdn || !tier || !by || !evidence || !config.operators.some((o) => o.id === operator)) {
      usageError('dialpay subscriber tier needs --operator ID (one of: '
        + `${config.operators.map((o) => o.id).join(', ')}), --msisdn NUMBER, --tier T, --by AGENT and --evidence REF`);
    }
    if (!TIER_DIGITS.test(tier)) usageError(`dialpay subscriber tier: --tier "${tier}" is not a tier number`);
    const log = createLogger({ level: config.log.level, component: 'kyc-tier' });
    const pool = commandPool(config, 'dialpay-subscriber-tier', log);
    // The record of a change is its row in payments.kyc_tier_changes, not a log line.
    try {
      const result = await setKycTier(pool, config, { operatorId: operator, msisdn, tier: Number(tier), by, evidence });
      const { out, err, code } = outcome(result, operator, msisdn);
      if (out !== undefined) process.stdout.write(`${out}\n`);
      if (err !== undefined) process.stderr.write(`dialpay: ${err}\n`);
      process.exitCode = code;
    } finally {
      await pool.end();
    }
  },
};

/** `subscriber block` / `subscriber unblock`: the line printed (stdout) or the refusal (stderr), with its exit code. */
function blockOutcome(result: SubscriberBlockResult, operator: string, number: string): { out?: string; err?: string; code: number } {
  switch (result.kind) {
    case 'changed':
      return { code: 0, out: result.blocked
        ? `+${result.msisdn} blocked: it can receive but not pay, send or withdraw; told by SMS`
        : `+${result.msisdn} unblocked: it can pay, send and withdraw again; told by SMS` };
    case 'unchanged':
      return { code: 0, out: `+${result.msisdn} is already ${result.blocked ? 'blocked' : 'unblocked'}; unchanged, nothing recorded` };
    case 'bad-number':
      return { code: EXIT_USAGE, err: `"${number}" is not a phone number of ${operator}` };
    case 'missing':
      return { code: EXIT_USAGE, err: `--${result.field} must not be empty` };
  }
}

function blockCommand(word: 'block' | 'unblock'): Command {
  const change = word === 'block' ? blockSubscriber : unblockSubscriber;
  return {
    needsConfig: true,
    help: [word === 'block'
      ? ['subscriber block --operator ID --msisdn NUMBER --by AGENT --reason TEXT',
        'customer care: block a line (lost phone, court order): it can receive but not pay,',
        'send or withdraw, by any channel; BAL and pin reset still work. Told by SMS; audited']
      : ['subscriber unblock --operator ID --msisdn NUMBER --by AGENT --reason TEXT',
        'customer care: lift a block; the subscriber is told by SMS. Audited']],
    async run({ config, values }) {
      const { operator, msisdn, by, reason } = values;
      if (!operator || !msisdn || !by || !reason || !config.operators.some((o) => o.id === operator)) {
        usageError(`dialpay subscriber ${word} needs --operator ID (one of: `
          + `${config.operators.map((o) => o.id).join(', ')}), --msisdn NUMBER, --by AGENT and --reason TEXT`);
      }
      const log = createLogger({ level: config.log.level, component: `subscriber-${word}` });
      const pool = commandPool(config, `dialpay-subscriber-${word}`, log);
      // The record of a change is its row in payments.subscriber_block_changes, not a log line.
      try {
        const { out, err, code } = blockOutcome(await change(pool, config, { operatorId: operator, msisdn, by, reason }), operator, msisdn);
        if (out !== undefined) process.stdout.write(`${out}\n`);
        if (err !== undefined) process.stderr.write(`dialpay: ${err}\n`);
        process.exitCode = code;
      } finally {
        await pool.end();
      }
    },
  };
}

export const subscriberBlock = blockCommand('block');
export const subscriberUnblock = blockCommand('unblock');
