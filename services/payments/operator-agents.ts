// The operator API's agents (issue 16): POST /v1/operator/agents/{id}/float-topups tops one of
// the operator's agents' floats up from its funding account, as `dialpay agent fund` does
// (fundAgent: the agent checked, billing books it idempotent on the reference, one audit line,
// actor operator-api:<operator>); GET /v1/operator/agents/{id} reads the agent and its float.
// billing answers over dialpay.billing.agent_float (agent_float.proto): payments imports nothing
// of billing's. A POST runs under its Idempotency-Key (api-idempotency.ts), except when billing
// does not answer: then nothing is stored for the key, so its retry asks billing again, and the
// reference keeps that to one top-up however many times it is asked.
import type pg from 'pg';
import { dialpay, moneyFromProto, moneyFromProtoOrNull, moneyToProto } from '../../proto/index.js';
import type { OperatorConfig } from '../../runtime/config/index.js';
import { Requests, requestReply } from '../../runtime/nats/index.js';
import { operatorScope, withIdempotencyKey } from './api-idempotency.js';
import { fundAgent, readAgent, type AgentRow, type FloatTopUp, type FloatTopUpResult } from './agents.js';
import { maskedNumber } from './cash.js';
import type { PaymentEngine } from './engine.js';

const { AgentFloatOutcome, MerchantError } = dialpay.v1;

/**
 * How long payments waits for billing's answer: under the gateway's wait for payments
 * (merchantApi.requestTimeoutMs, 5 s by default), so the API says which one did not answer.
 * A top-up's waits hold the key's transaction open, so this is also a bound on that.
 */
const BILLING_TIMEOUT_MS = 2_000;
const UNKNOWN_AGENT = { error: MerchantError.MERCHANT_ERROR_NOT_FOUND, detail: 'no such agent' };
const BILLING_UNANSWERED = 'billing did not answer in time; retry with the same Idempotency-Key (the reference books it at most once)';

/** billing did not answer (timed out, nobody serving, or busy): nothing is known, nothing may be stored for the key. */
class BillingUnanswered extends Error {
  override readonly name = 'BillingUnanswered';
}

async function askBilling(e: PaymentEngine, request: dialpay.v1.IAgentFloatRequest): Promise<dialpay.v1.IAgentFloatReply> {
  let reply: dialpay.v1.IAgentFloatReply;
  try {
    reply = await requestReply(e.nc, Requests.billingAgentFloat, request, BILLING_TIMEOUT_MS);
  } catch (err) {
    throw new BillingUnanswered('no answer on the agent float subject', { cause: err });
  }
  if (!reply.available) throw new BillingUnanswered('billing is busy');
  return reply;
}

/** fundAgent's billing, over NATS: billing's answer as fundAgentFloat would have returned it. */
async function fundOverNats(e: PaymentEngine, request: FloatTopUp): Promise<FloatTopUpResult> {
  const reply = await askBilling(e, {
    operatorId: request.operatorId, agentId: request.agentId, reference: request.reference,
    topUp: moneyToProto({ amountMinor: request.amountMinor, currency: request.currency }),
  });
  const transferId = reply.transferId ?? '';
  switch (reply.outcome) {
    case AgentFloatOutcome.AGENT_FLOAT_OUTCOME_FUNDED:
    case AgentFloatOutcome.AGENT_FLOAT_OUTCOME_ALREADY:
      return { outcome: reply.outcome === AgentFloatOutcome.AGENT_FLOAT_OUTCOME_FUNDED ? 'funded' : 'already', transferId,
        balanceMinor: moneyFromProto(reply.balance).amountMinor };
    case AgentFloatOutcome.AGENT_FLOAT_OUTCOME_CONFLICT:
      return { outcome: 'conflict', transferId, detail: reply.detail ?? '' };
    default:
      return { outcome: 'invalid', detail: reply.detail || 'billing refused the top-up' };
  }
}

/** POST /v1/operator/agents/{id}/float-topups. */
export async function topUpAgentFloat(
  e: PaymentEngine, operator: OperatorConfig, request: dialpay.v1.IOperatorCommandRequest, command: dialpay.v1.ITopUpAgentFloat,
): Promise<dialpay.v1.IOperatorCommandReply> {
  try {
    // A throw rolls the key's transaction back: the key is free again for the retry.
    return await withIdempotencyKey(e.pool, operatorScope(operator.id), request.idempotencyKey ?? '', request.bodySha256,
      dialpay.v1.OperatorCommandReply, (client) => fundForOperator(e, client, operator, command));
  } catch (err) {
    if (!(err instanceof BillingUnanswered)) throw err;
    e.log.warn({ err, operatorId: operator.id, agentId: command.agentId },
      'agent float top-up: billing did not answer; nothing stored for the key');
    return { error: MerchantError.MERCHANT_ERROR_UNAVAILABLE, detail: BILLING_UNANSWERED };
  }
}

async function fundForOperator(
  e: PaymentEngine, client: pg.PoolClient, operator: OperatorConfig, command: dialpay.v1.ITopUpAgentFloat,
): Promise<dialpay.v1.IOperatorCommandReply> {
  const amount = moneyFromProtoOrNull(command.amount);
  if (!amount) return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'amount and currency are required' };
  if (amount.amountMinor <= 0n) return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'amount must be positive' };
  if (amount.currency !== operator.currency) {
    return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: `this operator's currency is ${operator.currency}` };
  }
  const reference = command.reference ?? '';
  const funded = await fundAgent(client, e.config, {
    agentId: command.agentId ?? '', amountMinor: amount.amountMinor, reference,
    actor: `operator-api:${operator.id}`, operatorId: operator.id,
  }, (_db, topUp) => fundOverNats(e, topUp));
  if (funded.kind === 'unknown-agent') return UNKNOWN_AGENT;
  if (funded.kind === 'bad-reference') {
    return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: 'reference must be 1 to 64 of A-Z a-z 0-9 . _ -' };
  }
  const { result, agent } = funded;
  switch (result.outcome) {
    case 'funded':
    case 'already':
      if (result.outcome === 'funded') {
        e.log.info({ operatorId: operator.id, agentId: agent.agent_id, transferId: result.transferId },
          'agent float topped up over the operator API');
      }
      return {
        floatTopUp: {
          agentId: agent.agent_id, reference, amount: moneyToProto(amount), status: 'completed', transferId: result.transferId,
          floatBalance: moneyToProto({ amountMinor: result.balanceMinor, currency: operator.currency }),
        },
      };
    case 'conflict':
      return { error: MerchantError.MERCHANT_ERROR_REFERENCE_CONFLICT, detail: `${result.detail}; nothing booked` };
    case 'short': // a top-up debits the funding account, which has no floor: only a return is ever short
    case 'invalid':
      return { error: MerchantError.MERCHANT_ERROR_INVALID, detail: result.detail };
  }
}

/** GET /v1/operator/agents/{id}: the operator's own agents only; another's is not found, as an unknown one. */
export async function readOperatorAgent(
  e: PaymentEngine, operator: OperatorConfig, agentId: string,
): Promise<dialpay.v1.IOperatorCommandReply> {
  const agent = await readAgent(e.pool, agentId.toUpperCase());
  if (!agent || agent.operator_id !== operator.id) return UNKNOWN_AGENT;
  let reply: dialpay.v1.IAgentFloatReply;
  try {
    reply = await askBilling(e, { operatorId: operator.id, agentId: agent.agent_id });
  } catch (err) {
    if (!(err instanceof BillingUnanswered)) throw err;
    return { error: MerchantError.MERCHANT_ERROR_UNAVAILABLE, detail: 'billing did not answer in time; try again' };
  }
  if (reply.outcome !== AgentFloatOutcome.AGENT_FLOAT_OUTCOME_READ) {
    return { error: MerchantError.MERCHANT_ERROR_UNAVAILABLE, detail: reply.detail || 'billing could not read the float' };
  }
  return { agent: operatorAgent(agent, moneyFromProto(reply.balance).amountMinor, operator.currency) };
}

function operatorAgent(agent: AgentRow, floatMinor: bigint, currency: string): dialpay.v1.IOperatorAgent {
  return {
    agentId: agent.agent_id, name: agent.name, state: agent.state, msisdnMasked: maskedNumber(agent.msisdn),
    floatBalance: moneyToProto({ amountMinor: floatMinor, currency }),
  };
}
