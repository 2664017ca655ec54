// `dialpay agent add|list|suspend|resume|fund`: an operator's agents (issue 16).
// Each change writes one line to payments.agent_audit (services/payments/agents.ts)
// naming who did it: --by, else the login (SUDO_USER, then USER), as `pin reset` does.
// Amounts are in major units, as subscribers type them ("5000" is 5,000.00 KES).
import type { Config } from '../runtime/config/index.js';
import { createLogger } from '../runtime/log.js';
import { formatAmount, parseAmount } from '../runtime/money.js';
import type pg from 'pg';
import { addAgent, auditActor, fundAgent, listAgents, readAgent, setAgentState, type AgentRow } from '../services/payments/index.js';
import { fundAgentFloat, returnAgentFloat } from '../services/billing/agent-floats.js';
import { commandPool } from './pool.js';

export const AGENT_USAGE = `  agent add --operator ID --id AGENT --name NAME --msisdn NUMBER [--by NAME]
                   register an agent (a shop that exchanges cash for wallet money): AGENT is 2-32
                   of A-Z, 0-9, "-" (AG1001); NUMBER is the agent's own line on that operator
  agent list --operator ID
                   the operator's agents: id, state, line, name
  agent suspend --agent AGENT [--by NAME] | agent resume --agent AGENT [--by NAME]
                   a suspended agent's DEP is refused and no one can WITHDRAW at it
  agent fund --agent AGENT --amount AMOUNT --ref REF [--by NAME]
                   top up the agent's float by AMOUNT (major units, as typed by SMS: 5000 or 12.50),
                   from the operator's funding account; idempotent on REF (the same REF books once)
  agent defloat --agent AGENT --amount AMOUNT --ref REF [--by NAME]
                   take AMOUNT of the agent's float back to the operator's funding account (the
                   agent is paid outside dialpay: a retiring agent, a float too large); refused,
                   nothing moved, when the float holds less; idempotent on REF
                   every change is kept in payments.agent_audit with --by (default: the login)
`;

export interface AgentArgs {
  readonly operator?: string | undefined;
  readonly id?: string | undefined;
  readonly name?: string | undefined;
  readonly msisdn?: string | undefined;
  readonly agent?: string | undefined;
  readonly amount?: string | undefined;
  readonly ref?: string | undefined;
  readonly by?: string | undefined;
}

/** What a command says and how it exits: 0 done, 1 refused (nothing changed), usageExit for a wrong use. */
type Outcome = { code: number; out?: string; err?: string };

/** Runs one `agent` subcommand; returns its exit code (`usageExit` for a missing or bad argument). */
export async function runAgentCommand(config: Config, sub: string | undefined, args: AgentArgs, usageExit: number): Promise<number> {
  const usage = (why: string): number => {
    process.stderr.write(`dialpay agent ${sub ?? ''}: ${why}\n\n${AGENT_USAGE}`);
    return usageExit;
  };
  const operators = config.operators.map((o) => o.id).join(', ');
  if (sub === 'add' || sub === 'list') {
    if (!args.operator || !config.operators.some((o) => o.id === args.operator)) return usage(`needs --operator ID, one of: ${operators}`);
    if (sub === 'add' && (!args.id || !args.name || !args.msisdn)) return usage('needs --id AGENT, --name NAME and --msisdn NUMBER');
  } else if (sub === 'suspend' || sub === 'resume' || sub === 'fund' || sub === 'defloat') {
    if (!args.agent) return usage('needs --agent AGENT');
    if ((sub === 'fund' || sub === 'defloat') && (!args.amount || !args.ref)) return usage('needs --amount AMOUNT and --ref REF');
  } else {
    return usage(`unknown subcommand "${sub ?? ''}"; one of: add, list, suspend, resume, fund, defloat`);
  }
  const log = createLogger({ level: config.log.level, component: 'agent' });
  const pool = commandPool(config, 'dialpay-agent', log);
  try {
    const outcome = await run(pool, config, sub, args);
    if (outcome.out) process.stdout.write(outcome.out);
    if (outcome.err) process.stderr.write(`dialpay: ${outcome.err}\n`);
    return outcome.code === -1 ? usageExit : outcome.code;
  } finally {
    await pool.end();
  }
}

const line = (a: AgentRow) => `${a.agent_id}\t${a.state}\t+${a.msisdn}\t${a.name}\n`;

async function run(pool: pg.Pool, config: Config, sub: string, args: AgentArgs): Promise<Outcome> {
  const actor = auditActor(args.by);
  switch (sub) {
    case 'add': {
      const r = await addAgent(pool, config, {
        operatorId: args.operator as string, agentId: args.id as string, name: args.name as string, number: args.msisdn as string, actor,
      });
      switch (r.kind) {
        case 'added': return { code: 0, out: `added ${line(r.agent)}` };
        case 'bad-id': return { code: -1, err: `agent id "${args.id}" must be 2-32 of A-Z, 0-9 and "-"` };
        case 'bad-name': return { code: -1, err: 'the name must be 1-40 characters' };
        case 'bad-number': return { code: -1, err: `"${args.msisdn}" is not a phone number of ${args.operator}` };
        case 'id-taken':
          return { code: 1, err: `agent ${r.agent.agent_id} already exists (${r.agent.operator_id}, +${r.agent.msisdn}); nothing changed` };
        case 'msisdn-taken': return { code: 1, err: `+${r.agent.msisdn} is already agent ${r.agent.agent_id}'s line; nothing changed` };
      }
      break;
    }
    case 'list': {
      const agents = await listAgents(pool, args.operator as string);
      return { code: 0, out: agents.length === 0 ? `no agents for ${args.operator}\n` : agents.map(line).join('') };
    }
    case 'suspend':
    case 'resume': {
      const r = await setAgentState(pool, args.agent as string, sub === 'suspend' ? 'suspended' : 'active', actor);
      if (r.kind === 'unknown-agent') return { code: 1, err: `no agent "${args.agent}"` };
      const done = r.kind === 'changed' ? (sub === 'suspend' ? 'suspended' : 'resumed') : `unchanged (already ${r.agent.state})`;
      return { code: 0, out: `${done} ${line(r.agent)}` };
    }
    case 'fund':
    case 'defloat':
      return fund(pool, config, args, actor, sub);
  }
  return { code: -1 };
}

async function fund(
  pool: pg.Pool, config: Config, args: AgentArgs, actor: string, action: 'fund' | 'defloat',
): Promise<Outcome> {
  const agentId = (args.agent as string).toUpperCase();
  // The amount is read in the agent's operator's currency, so the agent is looked up first.
  const agent = await readAgent(pool, agentId);
  if (!agent) return { code: 1, err: `no agent "${args.agent}"` };
  const currency = config.operators.find((o) => o.id === agent.operator_id)?.currency;
  if (!currency) return { code: 1, err: `agent ${agentId}'s operator ${agent.operator_id} is not in this config` };
  const amountMinor = parseAmount(args.amount as string, currency);
  if (amountMinor === null) {
    return { code: -1, err: `--amount "${args.amount}" is not an amount of ${currency} (major units: 5000 or 12.50)` };
  }
  const r = await fundAgent(pool, config, { agentId, amountMinor, reference: args.ref as string, actor, action },
    action === 'fund' ? fundAgentFloat : returnAgentFloat);
  if (r.kind === 'bad-reference') return { code: -1, err: '--ref must be 1-64 of letters, digits, ".", "_" or "-"' };
  if (r.kind === 'unknown-agent') return { code: 1, err: `no agent "${args.agent}"` };
  const amount = formatAmount(amountMinor, currency);
  switch (r.result.outcome) {
    case 'funded': {
      const what = action === 'fund' ? `funded ${agentId} with` : `took back from ${agentId}`;
      return { code: 0, out: `${what} ${amount} (ref ${args.ref}); float now ${formatAmount(r.result.balanceMinor, currency)}\n` };
    }
    case 'already': {
      const float = formatAmount(r.result.balanceMinor, currency);
      const what = action === 'fund' ? 'funded' : 'taken back';
      return { code: 0, out: `already ${what}: ref ${args.ref} was booked before, nothing booked now; float ${float}\n` };
    }
    case 'short': return { code: 1, err: `${r.result.detail}; nothing moved` };
    case 'conflict': return { code: 1, err: `${r.result.detail}; nothing booked` };
    case 'invalid': return { code: 1, err: `${r.result.detail}; nothing booked` };
  }
}
