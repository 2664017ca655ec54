// PLACEHOLDER written on the payments branch (w-i16-payments) only so `dialpay agent fund`
// compiles: the billing helper's branch owns this file (float top-up funding:<op> -> agent:<id>,
// transfer float:<operatorId>:<ref>, idempotent on the reference). At the merge, KEEP BILLING'S
// VERSION and drop this one; the CLI only needs `fundAgentFloat(pool, request)` to resolve once
// booked (or booked before with the same reference) and to throw otherwise.
import type pg from 'pg';

export interface FundAgentFloatRequest {
  readonly operatorId: string;
  readonly agentId: string;
  readonly currency: string;
  readonly amountMinor: bigint;
  readonly reference: string;
}

export async function fundAgentFloat(_pool: pg.Pool, request: FundAgentFloatRequest): Promise<never> {
  throw new Error(`cannot fund ${request.agentId}: billing's agent floats (services/billing/agent-floats.ts) are not on this build`);
}
