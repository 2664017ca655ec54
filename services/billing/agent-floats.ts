// PLACEHOLDER written on the payments branch (w-i16-payments) only so `dialpay agent fund`
// compiles and can be tested: the billing helper's branch owns this file (float top-up
// funding:<op> -> agent:<id>, transfer float:<operatorId>:<ref>, idempotent on the reference).
// At the merge, KEEP BILLING'S VERSION and drop this one. The types below are copied from it
// (w-i16-billing, services/billing/agent-floats.ts) so the CLI compiles against either.
import type pg from 'pg';

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
  | { readonly outcome: 'funded'; readonly transferId: string; readonly balanceMinor: bigint }
  | { readonly outcome: 'already'; readonly transferId: string; readonly balanceMinor: bigint }
  | { readonly outcome: 'conflict'; readonly transferId: string; readonly detail: string }
  | { readonly outcome: 'invalid'; readonly detail: string };

export async function fundAgentFloat(_pool: pg.Pool, _input: FloatTopUp): Promise<FloatTopUpResult> {
  return { outcome: 'invalid', detail: "billing's agent floats (services/billing/agent-floats.ts) are not on this build" };
}
