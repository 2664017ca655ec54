// `dialpay care list|release|reject`: customer care's held-payment cases (a risk rule held them: services/payments/holds.ts).
// list shows an operator's cases; release lets one go on to its challenge; reject fails it, the payer told.
import { createLogger } from '../../runtime/log.js';
import { connectNats, natsOptionsFor } from '../../runtime/nats/index.js';
import { commandPool } from '../pool.js';
import { CARE_LIST_MAX, decideCareCase, listCareCases, type CareCaseRow, type CareDecisionResult } from '../../services/payments/index.js';
import type { Config } from '../../runtime/config/index.js';
import { EXIT_USAGE, usageError, type Command } from '../command.js';
import { lookUp, requireAgent } from './care.js';

const poolFor = (config: Config, name: string) => commandPool(config, name, createLogger({ level: config.log.level, component: name }));

/** One case a line: what care needs to call the payer back and decide (the number in full: care calls it). */
function caseLine(c: CareCaseRow): string {
  const decided = c.status === 'open' ? 'open' : `${c.status} by ${c.decided_by ?? '?'} ${c.decided_at?.toISOString() ?? ''}`;
  return [`case ${c.case_id}`, c.opened_at.toISOString(), `+${c.msisdn}`, `rule ${c.rule}`, `payment ${c.payment_id}`, decided,
    ...(c.reason ? [`(${c.reason})`] : [])].join('  ');
}

export const careList: Command = {
  needsConfig: true,
  help: [['care list --operator ID --by AGENT [--open]', "customer care: the operator's held-payment cases, newest first",
    `(at most ${CARE_LIST_MAX}); --open: only those waiting for a decision; read-only, logged with the agent's name`]],
  async run({ config, values }) {
    const usage = `dialpay care list needs --operator ID (one of: ${config.operators.map((o) => o.id).join(', ')}) and --by AGENT`;
    const { operator } = values;
    if (!operator || !config.operators.some((o) => o.id === operator)) usageError(usage);
    const by = requireAgent(values, usage);
    // Like the lookups (care.ts): full numbers are shown, so who listed them is logged.
    const cases = await lookUp(config, { by, command: 'care list', subject: { operatorId: operator } },
      (client) => listCareCases(client, operator, values.open === true), (rows) => rows.length > 0);
    process.stdout.write(cases.length === 0 ? `no ${values.open ? 'open ' : ''}cases for ${operator}\n`
      : cases.map((c) => `${caseLine(c)}\n`).join(''));
  },
};

function outcome(result: CareDecisionResult, caseId: string): { out?: string; err?: string; code: number } {
  switch (result.kind) {
    case 'released':
      return { code: 0,
        out: `case ${result.caseId} released: payment ${result.paymentId} goes on; +${result.msisdn} gets its confirmation` };
    case 'rejected':
      return { code: 0,
        out: `case ${result.caseId} rejected: payment ${result.paymentId} failed, nothing charged; +${result.msisdn} told` };
    case 'unknown-case':
      return { code: EXIT_USAGE, err: `no care case "${caseId}"` };
    case 'decided':
      return { code: 1, err: `case ${caseId} was already ${result.status} by ${result.by} at ${result.at.toISOString()}; nothing changed` };
    case 'missing':
      return { code: EXIT_USAGE, err: `--${result.field} must not be empty` };
  }
}

function decision(action: 'release' | 'reject'): Command {
  return {
    needsConfig: true,
    help: action === 'release'
      ? [['care release --case ID --by AGENT [--reason TEXT]', 'customer care: let a held payment go on (after speaking to the',
        'line\'s owner): its reserve, not screened again, then its confirmation SMS']]
      : [['care reject --case ID --by AGENT --reason TEXT', 'customer care: fail a held payment; nothing is charged, the payer',
        'is told by SMS']],
    async run({ config, values }) {
      const { case: caseId, by } = values;
      const reason = values.reason ?? '';
      if (!caseId || !by || (action === 'reject' && !reason)) {
        usageError(`dialpay care ${action} needs --case ID, --by AGENT${action === 'reject' ? ' and --reason TEXT' : ''}`);
      }
      const log = createLogger({ level: config.log.level, component: `care-${action}` });
      const pool = poolFor(config, `dialpay-care-${action}`);
      // The engine's notifications (PaymentFailed...) go out on core NATS after the commit.
      const nats = await connectNats(natsOptionsFor(config.nats, 'admin', `dialpay-care-${action}`), log);
      try {
        const result = await decideCareCase({ pool, nc: nats.nc, config, log }, { caseId, action, by, reason });
        const { out, err, code } = outcome(result, caseId);
        if (out !== undefined) process.stdout.write(`${out}\n`);
        if (err !== undefined) process.stderr.write(`dialpay: ${err}\n`);
        process.exitCode = code;
      } finally {
        await nats.close();
        await pool.end();
      }
    },
  };
}

export const careRelease = decision('release');
export const careReject = decision('reject');
