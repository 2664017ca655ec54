// `dialpay payment reverse`: customer care reverses a transfer sent to the wrong number (payments'
// reversals.ts): what is still in the payee's wallet goes back to the payer's, both told by SMS.
// Waits briefly for billing's answer; asking again for the same payment reports the same reversal.
import { createLogger, maskMsisdn } from '../../runtime/log.js';
import { formatAmount } from '../../runtime/money.js';
import { walletBalance } from '../../services/billing/index.js';
import { reversePayment, waitForReversal, type ReversalResult, type ReversalView } from '../../services/payments/index.js';
import { EXIT_USAGE, usageError, type Command } from '../command.js';
import { commandPool } from '../pool.js';

/** How long the command waits for billing to book (or refuse) the reversal before saying it is pending. */
const ANSWER_WAIT_MS = 15_000;

function describe(r: ReversalView): { line: string; code: number } {
  const amount = (minor: bigint) => formatAmount(minor, r.currency, 'en');
  const parties = `${maskMsisdn(r.payeeMsisdn)} -> ${maskMsisdn(r.payerMsisdn)}`;
  const ref = r.paymentId.slice(0, 8).toUpperCase();
  switch (r.outcome) {
    case 'reversed':
      return { code: 0, line: `reversed: ${amount(r.reversedMinor)} of transfer Ref ${ref} taken back (${parties}); both told by SMS` };
    case 'partial':
      return { code: 0, line: `partly reversed: ${amount(r.reversedMinor)} of ${amount(r.askedMinor)} of transfer Ref ${ref} taken back `
        + `(${parties}), the rest was spent; both told by SMS` };
    case 'refused':
      return { code: 1, line: `refused: ${r.detail || 'billing refused it'}; nothing moved` };
    case 'pending':
      return { code: 0, line: `requested: billing has not answered yet; run the same command again to see the outcome` };
  }
}

/** The lines the command prints (stdout) or its refusal (stderr), with its exit code. */
function outcome(result: ReversalResult, reversal: ReversalView | undefined): { out?: string; err?: string; code: number } {
  switch (result.kind) {
    case 'missing':
      return { code: EXIT_USAGE, err: `--${result.field} must not be empty` };
    case 'refused':
      return { code: 1, err: `cannot reverse this payment: ${result.detail}; nothing moved` };
    case 'requested':
    case 'existing': {
      const { line, code } = describe(reversal ?? result.reversal);
      const asked = result.reversal;
      const before = result.kind === 'existing'
        ? `already asked on ${asked.requestedAt.toISOString()} by ${asked.requestedBy} (${asked.reason}); nothing asked again. ` : '';
      return { code, out: `${before}${line}` };
    }
  }
}

export const paymentReverse: Command = {
  needsConfig: true,
  help: [
    ['payment reverse --payment ID --by AGENT --reason TEXT',
      'customer care: reverse a transfer sent to the wrong number: what is still in',
      "the payee's wallet goes back to the payer's (partly if some was spent; refused",
      'when none is left or it is older than reversals.windowMs); both told by SMS.',
      'The fee is not returned. Once per payment; asking again reports it'],
  ],
  async run({ config, values }) {
    const { payment, by, reason } = values;
    if (!payment || !by || !reason) usageError('dialpay payment reverse needs --payment ID, --by AGENT and --reason TEXT');
    const log = createLogger({ level: config.log.level, component: 'payment-reverse' });
    const pool = commandPool(config, 'dialpay-payment-reverse', log);
    // The record of a reversal is its row in payments.reversals (who, why, when), not a log line.
    try {
      const result = await reversePayment(pool, config, { paymentId: payment, by, reason }, (msisdn) => walletBalance(pool, msisdn));
      const settled = result.kind === 'requested' || result.kind === 'existing'
        ? await waitForReversal(pool, result.reversal.paymentId, ANSWER_WAIT_MS) : undefined;
      const { out, err, code } = outcome(result, settled);
      if (out !== undefined) process.stdout.write(`${out}\n`);
      if (err !== undefined) process.stderr.write(`dialpay: ${err}\n`);
      process.exitCode = code;
    } finally {
      await pool.end();
    }
  },
};
