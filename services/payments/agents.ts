// The agent registry (issue 16): shops that exchange cash for wallet money,
// registered per operator by `dialpay agent add|list|suspend|resume|fund`.
// payments.agents says who an agent is (id, operator, name, line) and whether
// it may trade; its float is billing's ledger account agent:<agent_id>.
// Every change an operator makes writes one line to payments.agent_audit,
// in the same transaction (the table refuses UPDATE and DELETE).
import type pg from 'pg';
import type { Config, OperatorConfig } from '../../runtime/config/index.js';
import { numberBelongsTo, toE164 } from '../../runtime/msisdn.js';
import { withTransaction } from '../../runtime/pg/index.js';
import { AGENT_ID } from './sms-grammar.js';

type Db = pg.ClientBase | pg.Pool;

export type AgentState = 'active' | 'suspended';
export type AgentAction = 'add' | 'suspend' | 'resume' | 'fund' | 'defloat';

export interface AgentRow {
  agent_id: string;
  operator_id: string;
  name: string;
  msisdn: string;
  state: AgentState;
  created_at: Date;
  updated_at: Date;
}

/** An agent's name as shown in SMS: short enough to leave room for the rest of a receipt. */
export const AGENT_NAME_LENGTH_MAX = 40;
/** Who did it, as the audit keeps it. */
const ACTOR_LENGTH_MAX = 64;
/** `agent list` shows at most this many; an operator with more pages by id. */
export const AGENT_LIST_MAX = 1_000;

export type AddAgentResult =
  | { readonly kind: 'added'; readonly agent: AgentRow }
  | { readonly kind: 'bad-id' }
  | { readonly kind: 'bad-name' }
  | { readonly kind: 'bad-number' }
  | { readonly kind: 'id-taken'; readonly agent: AgentRow }
  | { readonly kind: 'msisdn-taken'; readonly agent: AgentRow };

export function operatorOf(config: Config, operatorId: string): OperatorConfig {
  const operator = config.operators.find((o) => o.id === operatorId);
  if (!operator) throw new RangeError(`unknown operator "${operatorId}"`);
  return operator;
}

/** The audit's actor: who was named, else who is logged in (as `pin reset` does). */
export function auditActor(by: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const actor = (by ?? env.SUDO_USER ?? env.USER ?? 'unknown').trim();
  return (actor === '' ? 'unknown' : actor).slice(0, ACTOR_LENGTH_MAX);
}

export async function addAgent(
  pool: pg.Pool, config: Config, request: { operatorId: string; agentId: string; name: string; number: string; actor: string },
): Promise<AddAgentResult> {
  const operator = operatorOf(config, request.operatorId);
  const agentId = request.agentId.toUpperCase();
  if (!AGENT_ID.test(agentId)) return { kind: 'bad-id' };
  const name = request.name.trim();
  if (name.length === 0 || name.length > AGENT_NAME_LENGTH_MAX) return { kind: 'bad-name' };
  const msisdn = toE164(request.number, operator.countryCallingCode);
  // The agent's line must be the operator's: its DEP arrives, and its receipts go, over that operator's link.
  if (!msisdn || !numberBelongsTo(operator, msisdn, config.operators)) return { kind: 'bad-number' };
  return withTransaction(pool, 'READ COMMITTED', async (client) => {
    const inserted = await client.query<AgentRow>(
      `INSERT INTO payments.agents (agent_id, operator_id, name, msisdn) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING *`,
      [agentId, operator.id, name, msisdn],
    );
    const agent = inserted.rows[0];
    if (!agent) {
      const byId = await readAgent(client, agentId);
      if (byId) return { kind: 'id-taken', agent: byId };
      return { kind: 'msisdn-taken', agent: (await agentByMsisdn(client, msisdn)) as AgentRow };
    }
    await recordAudit(client, { actor: request.actor, action: 'add', agentId, detail: { operatorId: operator.id, name, msisdn } });
    return { kind: 'added', agent };
  });
}

export async function listAgents(db: Db, operatorId: string, rowsMax = AGENT_LIST_MAX): Promise<AgentRow[]> {
  return (await db.query<AgentRow>(
    'SELECT * FROM payments.agents WHERE operator_id = $1 ORDER BY agent_id LIMIT $2', [operatorId, rowsMax])).rows;
}

export async function readAgent(db: Db, agentId: string): Promise<AgentRow | undefined> {
  return (await db.query<AgentRow>('SELECT * FROM payments.agents WHERE agent_id = $1', [agentId])).rows[0];
}

export async function agentByMsisdn(db: Db, msisdn: string): Promise<AgentRow | undefined> {
  return (await db.query<AgentRow>('SELECT * FROM payments.agents WHERE msisdn = $1', [msisdn])).rows[0];
}

export type StateChangeResult =
  | { readonly kind: 'changed'; readonly agent: AgentRow }
  | { readonly kind: 'unchanged'; readonly agent: AgentRow }
  | { readonly kind: 'unknown-agent' };

/**
 * Suspends or resumes an agent. A suspended agent's DEP is refused and no subscriber can
 * WITHDRAW at it; what is already waiting for a PIN or code runs its course (it ends within
 * limits.challengeTtlMs). Unchanged (already in that state) writes no audit line.
 */
export async function setAgentState(pool: pg.Pool, agentId: string, state: AgentState, actor: string): Promise<StateChangeResult> {
  return withTransaction(pool, 'READ COMMITTED', async (client) => {
    const current = (await client.query<AgentRow>(
      'SELECT * FROM payments.agents WHERE agent_id = $1 FOR NO KEY UPDATE', [agentId.toUpperCase()])).rows[0];
    if (!current) return { kind: 'unknown-agent' };
    if (current.state === state) return { kind: 'unchanged', agent: current };
    const updated = (await client.query<AgentRow>(
      'UPDATE payments.agents SET state = $2, updated_at = now() WHERE agent_id = $1 RETURNING *',
      [current.agent_id, state])).rows[0] as AgentRow;
    await recordAudit(client, {
      actor, action: state === 'suspended' ? 'suspend' : 'resume', agentId: current.agent_id, detail: { from: current.state, to: state },
    });
    return { kind: 'changed', agent: updated };
  });
}

export async function recordAudit(
  db: Db, line: { actor: string; action: AgentAction; agentId: string; detail: Record<string, unknown> },
): Promise<void> {
  await db.query('INSERT INTO payments.agent_audit (actor, action, agent_id, detail) VALUES ($1, $2, $3, $4)',
    [line.actor.slice(0, ACTOR_LENGTH_MAX), line.action, line.agentId, JSON.stringify(line.detail)]);
}

export interface AuditLine { id: string; at: Date; actor: string; action: AgentAction; agent_id: string; detail: Record<string, unknown> }

export async function auditOf(db: Db, agentId: string, rowsMax = AGENT_LIST_MAX): Promise<AuditLine[]> {
  return (await db.query<AuditLine>(
    `SELECT id::text, at, actor, action, agent_id, detail FROM payments.agent_audit
       WHERE agent_id = $1 ORDER BY id LIMIT $2`, [agentId, rowsMax])).rows;
}

/** billing's top-up request and answer (services/billing/agent-floats.ts), restated here: payments imports nothing of billing's. */
export interface FloatTopUp {
  readonly operatorId: string; readonly agentId: string; readonly currency: string;
  readonly amountMinor: bigint; readonly reference: string;
}
export type FloatTopUpResult =
  | { readonly outcome: 'funded' | 'already'; readonly transferId: string; readonly balanceMinor: bigint }
  /** conflict: the reference was used for another movement; short: a return larger than the float. Nothing booked. */
  | { readonly outcome: 'conflict' | 'short'; readonly transferId: string; readonly detail: string }
  | { readonly outcome: 'invalid'; readonly detail: string };

/**
 * billing's float top-up (or return: returnAgentFloat, with action 'defloat'), as `fundAgent` calls it:
 * services/billing/agent-floats.ts fundAgentFloat on the pool (the CLI), or the operator API's ask over
 * NATS on a transaction's client (operator-agents.ts).
 */
export type FundFloat<D extends Db = pg.Pool> = (db: D, request: FloatTopUp) => Promise<FloatTopUpResult>;

export type FundResult =
  | { readonly kind: 'unknown-agent' }
  | { readonly kind: 'bad-reference' }
  /** billing's answer: funded (booked now), already (booked before, nothing now), conflict or invalid (nothing booked). */
  | { readonly kind: 'billing'; readonly agent: AgentRow; readonly currency: string; readonly result: FloatTopUpResult };

/** A float top-up's reference: it names the ledger transfer (float:<operator>:<ref>); billing's FLOAT_REFERENCE. */
const FUND_REFERENCE = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * `dialpay agent fund` (and `agent defloat`, action 'defloat', with billing's returnAgentFloat): the agent
 * must exist (a suspended one may still be funded: the operator may be settling with it). billing books
 * funding:<operator> -> agent:<id>, idempotent on the reference; then one audit line per booked top-up:
 * written when billing booked it now, and when it had been booked before but its audit line is missing
 * (a run stopped between the two).
 * One pool: billing's schema is in the same database. With `operatorId` (the operator API), an
 * agent of another operator is unknown, as if it did not exist.
 */
export async function fundAgent<D extends Db>(
  db: D, config: Config,
  request: { agentId: string; amountMinor: bigint; reference: string; actor: string; operatorId?: string; action?: 'fund' | 'defloat' },
  fundFloat: FundFloat<D>,
): Promise<FundResult> {
  const action = request.action ?? 'fund';
  if (!FUND_REFERENCE.test(request.reference)) return { kind: 'bad-reference' };
  const agent = await readAgent(db, request.agentId.toUpperCase());
  if (!agent || (request.operatorId !== undefined && agent.operator_id !== request.operatorId)) return { kind: 'unknown-agent' };
  const operator = operatorOf(config, agent.operator_id);
  const result = await fundFloat(db, {
    operatorId: operator.id, agentId: agent.agent_id, currency: operator.currency,
    amountMinor: request.amountMinor, reference: request.reference,
  });
  if (result.outcome === 'funded' || result.outcome === 'already') {
    const detail = {
      amountMinor: request.amountMinor.toString(), currency: operator.currency, reference: request.reference, transferId: result.transferId,
    };
    await db.query(
      `INSERT INTO payments.agent_audit (actor, action, agent_id, detail) SELECT $1, $5, $2, $3
         WHERE NOT EXISTS (SELECT 1 FROM payments.agent_audit WHERE agent_id = $2 AND action = $5 AND detail->>'transferId' = $4)`,
      [request.actor.slice(0, ACTOR_LENGTH_MAX), agent.agent_id, JSON.stringify(detail), result.transferId, action],
    );
  }
  return { kind: 'billing', agent, currency: operator.currency, result };
}
