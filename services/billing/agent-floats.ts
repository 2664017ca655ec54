// Agents' floats (issue 16): the operator tops an agent's float up from its funding account
// (`dialpay agent fund`, which checks the agent in payments' registry first, then calls
// fundAgentFloat), and reads it back (readAgentFloat). A top-up is one balanced transfer,
// funding:<operator> -> agent:<agent>, whose id names the operator's reference: the same
// command again books nothing; the same reference with another agent or amount is refused,
// nothing booked. The float is the balance row agent:<agent>, never negative (ledger/store.ts).
// The operator API does the same over dialpay.billing.agent_float (answerAgentFloat). The
// operator can take float back (returnAgentFloat, `dialpay agent defloat`): agent:<agent> ->
// funding:<operator>, idempotent the same way, refused with nothing moved when the float is short.
import type pg from 'pg';
import { dialpay, moneyFromProtoOrNull, moneyToProto } from '../../proto/index.js';
import type { OperatorConfig } from '../../runtime/config/index.js';
import { withTransaction } from '../../runtime/pg/index.js';
import { Ledger } from './ledger/store.js';
import {
  AccountIds, AGENT_ID, floatReturnId, floatReturnTransfer, floatTopUpId, floatTopUpTransfer, LedgerInvariantError,
} from './ledger/rules.js';

/** transfers.id's bound (migrations/0001_ledger.sql). */
const TRANSFER_ID_CHARS_MAX = 128;

/** An operator's reference for a top-up: what its own funding records call it. */
export const FLOAT_REFERENCE = /^[A-Za-z0-9._-]{1,64}$/;

export interface FloatTopUp {
  readonly operatorId: string;
  readonly agentId: string;
  /** ISO 4217, the operator's currency. */
  readonly currency: string;
  readonly amountMinor: bigint;
  /** Idempotency key, per operator. */
  readonly reference: string;
}

export type FloatTopUpResult =
  /** Booked now; balanceMinor is the float after it. */
  | { readonly outcome: 'funded'; readonly transferId: string; readonly balanceMinor: bigint }
  /** This very top-up was booked before (the same reference, agent and amount): nothing booked now. */
  | { readonly outcome: 'already'; readonly transferId: string; readonly balanceMinor: bigint }
  /** A return larger than the float: nothing booked. */
  | { readonly outcome: 'short'; readonly transferId: string; readonly detail: string }
  /** The reference was used for another agent or amount: nothing booked. */
  | { readonly outcome: 'conflict'; readonly transferId: string; readonly detail: string }
  /** The request itself is wrong (amount, ids, currency of an existing float): nothing booked. */
  | { readonly outcome: 'invalid'; readonly detail: string };

/** Why a top-up request cannot be booked, or null. */
export function floatTopUpProblem(input: FloatTopUp): string | null {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(input.operatorId)) return `operator id ${JSON.stringify(input.operatorId)} is not valid`;
  if (!AGENT_ID.test(input.agentId)) return `agent id ${JSON.stringify(input.agentId)} is not [A-Z0-9-]{2,32}`;
  if (!FLOAT_REFERENCE.test(input.reference)) return 'the reference must be 1 to 64 of A-Z a-z 0-9 . _ -';
  if (!/^[A-Z]{3}$/.test(input.currency)) return `currency ${JSON.stringify(input.currency)} is not ISO 4217`;
  if (input.amountMinor <= 0n) return 'the amount must be positive';
  if (floatTopUpId(input.operatorId, input.reference).length > TRANSFER_ID_CHARS_MAX) {
    return 'the operator id and reference are too long together';
  }
  return null;
}

/**
 * Tops an agent's float up, once per (operator, reference), in one transaction: the accounts
 * created if new (the float at zero), the transfer applied, and when its id was taken already,
 * what that transfer was compared with this request.
 */
export function fundAgentFloat(pool: pg.Pool, input: FloatTopUp): Promise<FloatTopUpResult> {
  return moveAgentFloat(pool, input, 'in');
}

/**
 * Takes float back to the operator's funding account, once per (operator, reference), as
 * fundAgentFloat does the other way; 'short' when the float holds less, nothing booked (the
 * ledger checks it in the statement that debits the float).
 */
export function returnAgentFloat(pool: pg.Pool, input: FloatTopUp): Promise<FloatTopUpResult> {
  return moveAgentFloat(pool, input, 'out');
}

async function moveAgentFloat(pool: pg.Pool, input: FloatTopUp, direction: 'in' | 'out'): Promise<FloatTopUpResult> {
  const problem = floatTopUpProblem(input);
  if (problem) return { outcome: 'invalid', detail: problem };
  if (direction === 'out' && floatReturnId(input.operatorId, input.reference).length > TRANSFER_ID_CHARS_MAX) {
    return { outcome: 'invalid', detail: 'the operator id and reference are too long together' };
  }
  const ledger = new Ledger(pool);
  const transfer = direction === 'in' ? floatTopUpTransfer(input) : floatReturnTransfer(input);
  const floatId = AccountIds.agentFloat(input.agentId);
  const fundingId = AccountIds.operatorFunding(input.operatorId);
  // The account the movement credits: what a booked transfer under the same id must match.
  const creditedId = direction === 'in' ? floatId : fundingId;
  return withTransaction(pool, 'READ COMMITTED', async (client): Promise<FloatTopUpResult> => {
    const same = (booked: BookedTopUp | null): FloatTopUpResult | null =>
      booked && booked.amountMinor === input.amountMinor && booked.currency === input.currency && booked.floatId === creditedId ? null
        : {
          outcome: 'conflict', transferId: transfer.id,
          detail: `reference ${input.reference} was used for `
            + (booked ? `${booked.amountMinor} ${booked.currency} to ${booked.floatId}` : 'another transfer'),
        };
    const before = await bookedTopUp(client, transfer.id);
    if (before) {
      return same(before) ?? { outcome: 'already', transferId: transfer.id, balanceMinor: await readAgentFloat(client, input.agentId) };
    }
    const currencies = await client.query<{ id: string; currency: string }>(
      'SELECT id, currency FROM billing.accounts WHERE id = ANY ($1::text[])', [[floatId, fundingId]],
    );
    const other = currencies.rows.find((a) => a.currency !== input.currency);
    if (other) return { outcome: 'invalid', detail: `${other.id} is in ${other.currency}, not ${input.currency}` };
    await ledger.ensureAccountsIn(client, [
      { id: fundingId, kind: 'operator_funding', currency: input.currency },
      { id: floatId, kind: 'agent_float', currency: input.currency },
    ]);
    let applied = false;
    try {
      const [outcome] = await ledger.applyIn(client, [transfer]);
      if (outcome?.outcome === 'insufficient-funds') {
        const heldMinor = await readAgentFloat(client, input.agentId);
        const detail = `${floatId} holds ${heldMinor}, less than ${input.amountMinor} ${input.currency}`;
        return { outcome: 'short', transferId: transfer.id, detail };
      }
      applied = outcome?.outcome === 'applied';
    } catch (err) {
      // The same id with another amount, booked by a concurrent call meanwhile: the statement ran, nothing was booked here.
      if (!(err instanceof LedgerInvariantError)) throw err;
    }
    if (!applied) {
      const conflict = same(await bookedTopUp(client, transfer.id)); // booked by a concurrent call meanwhile
      if (conflict) return conflict;
    }
    return { outcome: applied ? 'funded' : 'already', transferId: transfer.id, balanceMinor: await readAgentFloat(client, input.agentId) };
  });
}

interface BookedTopUp {
  readonly amountMinor: bigint;
  readonly currency: string;
  /** The account(s) it credited, comma-separated: one float for a top-up. */
  readonly floatId: string;
}

/** A top-up booked under this id: its amount and the float it credited. */
async function bookedTopUp(client: pg.ClientBase, transferId: string): Promise<BookedTopUp | null> {
  const { rows } = await client.query<{ amount_minor: string; currency: string; credited: string | null }>(
    `SELECT t.amount_minor::text, t.currency,
       (SELECT string_agg(p.account_id, ',') FROM billing.postings p WHERE p.transfer_id = t.id AND p.amount_minor > 0) AS credited
     FROM billing.transfers t WHERE t.id = $1`,
    [transferId],
  );
  const row = rows[0];
  return row ? { amountMinor: BigInt(row.amount_minor), currency: row.currency, floatId: row.credited ?? '' } : null;
}

/** An agent's float, zero when it has never been funded. Takes the pool or a transaction's client. */
export async function readAgentFloat(db: pg.Pool | pg.ClientBase, agentId: string): Promise<bigint> {
  const { rows } = await db.query<{ balance_minor: string | null }>(
    'SELECT balance_minor::text FROM billing.accounts WHERE id = $1', [AccountIds.agentFloat(agentId)],
  );
  return BigInt(rows[0]?.balance_minor ?? '0');
}

const { AgentFloatOutcome } = dialpay.v1;

/**
 * The operator API's float calls (dialpay.billing.agent_float, asked by payments once it has
 * checked the agent is the operator's): a top-up through fundAgentFloat, or a read. The currency
 * is the operator's as billing's config has it; an unknown operator is invalid, nothing booked.
 */
export async function answerAgentFloat(
  pool: pg.Pool, operators: ReadonlyMap<string, OperatorConfig>, request: dialpay.v1.IAgentFloatRequest,
): Promise<dialpay.v1.IAgentFloatReply> {
  const invalid = (detail: string) => ({ available: true, outcome: AgentFloatOutcome.AGENT_FLOAT_OUTCOME_INVALID, detail });
  const operator = operators.get(request.operatorId ?? '');
  if (!operator) return invalid(`unknown operator ${JSON.stringify(request.operatorId ?? '')}`);
  const agentId = request.agentId ?? '';
  if (!AGENT_ID.test(agentId)) return invalid(`agent id ${JSON.stringify(agentId)} is not [A-Z0-9-]{2,32}`);
  const balance = (minor: bigint) => moneyToProto({ amountMinor: minor, currency: operator.currency });
  if (!request.topUp) {
    return { available: true, outcome: AgentFloatOutcome.AGENT_FLOAT_OUTCOME_READ, balance: balance(await readAgentFloat(pool, agentId)) };
  }
  const amount = moneyFromProtoOrNull(request.topUp);
  if (!amount) return invalid('the amount has no currency');
  if (amount.currency !== operator.currency) return invalid(`${operator.id}'s currency is ${operator.currency}, not ${amount.currency}`);
  const result = await fundAgentFloat(pool, {
    operatorId: operator.id, agentId, currency: amount.currency, amountMinor: amount.amountMinor, reference: request.reference ?? '',
  });
  switch (result.outcome) {
    case 'funded':
    case 'already':
      return {
        available: true,
        outcome: result.outcome === 'funded' ? AgentFloatOutcome.AGENT_FLOAT_OUTCOME_FUNDED : AgentFloatOutcome.AGENT_FLOAT_OUTCOME_ALREADY,
        transferId: result.transferId, balance: balance(result.balanceMinor),
      };
    case 'conflict':
      return {
        available: true, outcome: AgentFloatOutcome.AGENT_FLOAT_OUTCOME_CONFLICT, transferId: result.transferId, detail: result.detail,
      };
    case 'short': // only a return can be short; the operator API only tops up
    case 'invalid':
      return invalid(result.detail);
  }
}
