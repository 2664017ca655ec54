// Customer care's decisions on held payments (holds.ts), for `dialpay care`: release (the payment goes
// on to its reserve, not screened again, and its challenge) or reject (failed, the payer told by SMS).
// Each decision is one transaction: the case's event (append-only), the payment's step and its SMS and
// events through the outbox. A case is decided once: a second decision, or one on a case that expired,
// is refused and changes nothing.
import type pg from 'pg';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Config } from '../../runtime/config/index.js';
import type { Logger } from '../../runtime/log.js';
import { maskMsisdn } from '../../runtime/log.js';
import { withTransaction } from '../../runtime/pg/index.js';
import { PaymentEngine } from './engine.js';
import { addEvent, listCases, lockCase, paymentOfCase, prepareRelease, type CareCaseRow, type CareCaseStatus } from './care-store.js';
import { PaymentState } from './state.js';
import * as store from './store.js';

export type { CareCaseRow, CareCaseStatus };

export interface CareDeps { readonly pool: pg.Pool; readonly nc: NatsConnection; readonly config: Config; readonly log: Logger }

export interface CareDecisionRequest {
  readonly caseId: string;
  readonly action: 'release' | 'reject';
  /** The customer-care agent deciding. */
  readonly by: string;
  /** Why (a rejection's reason is required; a release's optional). */
  readonly reason: string;
}

export type CareDecisionResult =
  | { readonly kind: 'released' | 'rejected'; readonly caseId: string; readonly paymentId: string; readonly msisdn: string }
  | { readonly kind: 'unknown-case' }
  /** Already released, rejected or expired: nothing changed. */
  | { readonly kind: 'decided'; readonly status: Exclude<CareCaseStatus, 'open'>; readonly by: string; readonly at: Date }
  | { readonly kind: 'missing'; readonly field: 'by' | 'reason' };

/** The audit columns' bound: a name or a short reason, not a report. */
const AUDIT_TEXT_MAX = 200;
const CASE_ID = /^\d{1,18}$/;
/** `care list` shows at most this many cases, newest first. */
export const CARE_LIST_MAX = 200;

export async function decideCareCase(deps: CareDeps, request: CareDecisionRequest): Promise<CareDecisionResult> {
  const by = request.by.trim().slice(0, AUDIT_TEXT_MAX);
  const reason = request.reason.trim().slice(0, AUDIT_TEXT_MAX);
  if (by === '') return { kind: 'missing', field: 'by' };
  if (request.action === 'reject' && reason === '') return { kind: 'missing', field: 'reason' };
  if (!CASE_ID.test(request.caseId)) return { kind: 'unknown-case' };
  const engine = new PaymentEngine(deps);
  return withTransaction(deps.pool, 'READ COMMITTED', async (client) => {
    // The payment first, then its case: the order the sweep's expiry locks them in (no deadlock between the two).
    const paymentId = await paymentOfCase(client, request.caseId);
    if (paymentId === undefined) return { kind: 'unknown-case' };
    await store.lockPayment(client, paymentId);
    const found = await lockCase(client, request.caseId);
    if (!found) return { kind: 'unknown-case' };
    if (found.status !== 'open') {
      return { kind: 'decided', status: found.status, by: found.decided_by ?? '', at: found.decided_at ?? found.opened_at };
    }
    if (request.action === 'release') await prepareRelease(client, found.payment_id);
    const payment = await store.lockPayment(client, found.payment_id);
    // An open case's payment is held: a decision or an expiry changes the case and the payment in one transaction.
    if (payment?.state !== PaymentState.HELD) throw new Error(`care case ${found.case_id} is open but its payment is not held`);
    await addEvent(client, found.case_id, request.action === 'release' ? 'released' : 'rejected', by, reason);
    await engine.step(client, payment, { kind: request.action === 'release' ? 'care-release' : 'care-reject' });
    deps.log.warn({ caseId: found.case_id, paymentId: found.payment_id, rule: found.rule, payer: maskMsisdn(found.msisdn), by },
      `care case ${request.action === 'release' ? 'released' : 'rejected'}`);
    return { kind: request.action === 'release' ? 'released' : 'rejected', caseId: found.case_id, paymentId: found.payment_id,
      msisdn: found.msisdn };
  });
}

/** An operator's cases, newest first (at most CARE_LIST_MAX); `openOnly`: those waiting for a decision. */
export function listCareCases(db: pg.ClientBase | pg.Pool, operatorId: string, openOnly: boolean): Promise<CareCaseRow[]> {
  return listCases(db, operatorId, openOnly, CARE_LIST_MAX);
}
