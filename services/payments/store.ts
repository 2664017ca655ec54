// Named queries on payments.payments and payments.subscribers: each takes the
// caller's client, so the caller keeps the transaction (and its locks).
// Merchant-side tables (api_requests, refunds, mandates) are in merchant-store.ts.
import type pg from 'pg';
import { named, query } from '../../runtime/pg/named.js';
import type { Language } from '../../runtime/language.js';
import type { SpendingSoFar } from './limits.js';
import type { PaymentSpec, PaymentRow, SubscriberRow } from './rows.js';
import type { PaymentSplit } from './fees.js';

type Db = pg.ClientBase | pg.Pool;

/**
 * The subscriber's row, created on first contact with the operator's language, locked for this
 * transaction. FOR NO KEY UPDATE, not FOR UPDATE: it still serialises one MSISDN's commands, but
 * lets a payment row's foreign-key check (FOR KEY SHARE on this row) through. With FOR UPDATE a
 * debit result updating a payment twice in one transaction waits on the subscriber while the
 * subscriber's command waits on the payment: a deadlock.
 */
export async function lockSubscriber(client: pg.ClientBase, msisdn: string, defaultLanguage: Language): Promise<SubscriberRow> {
  // Whether a mandate waits for this payer's code comes with it: a YES then skips the mandates
  // query when none does (nearly always). A mandate's code is sent after its row commits, so a
  // reply to it comes after that commit and this read sees it.
  const lock = () => query<SubscriberRow>(
    client, named('payments.lockSubscriber', `SELECT s.*,
         EXISTS (SELECT 1 FROM payments.mandates m
           WHERE m.payer_msisdn = s.msisdn AND m.state = 'pending' AND m.expires_at > now()) AS mandate_pending
       FROM payments.subscribers s WHERE s.msisdn = $1 FOR NO KEY UPDATE OF s`),
    [msisdn],
  );
  // Locked first: a subscriber we know (every SMS but the first) costs one round trip, not two.
  const known = (await lock()).rows[0];
  if (known) return known;
  await query(client, named('payments.insertSubscriber',
    'INSERT INTO payments.subscribers (msisdn, language) VALUES ($1, $2) ON CONFLICT (msisdn) DO NOTHING'), [msisdn, defaultLanguage]);
  return (await lock()).rows[0] as SubscriberRow;
}

export async function readSubscriber(db: Db, msisdn: string): Promise<SubscriberRow | undefined> {
  return (await query<SubscriberRow>(
    db, named('payments.readSubscriber', 'SELECT * FROM payments.subscribers WHERE msisdn = $1'), [msisdn],
  )).rows[0];
}

/** Every dial asks this: a plain read, no lock and no write (so no commit to wait for on disk). */
export async function readProfile(
  db: Db, msisdn: string,
): Promise<{ has_pin: boolean; pin_locked: boolean; language: Language } | undefined> {
  return (await query<{ has_pin: boolean; pin_locked: boolean; language: Language }>(
    db, named('payments.readProfile',
      'SELECT pin_hash IS NOT NULL AS has_pin, pin_locked, language FROM payments.subscribers WHERE msisdn = $1'),
    [msisdn],
  )).rows[0];
}

export async function readLanguage(db: Db, msisdn: string): Promise<Language | undefined> {
  return (await query<{ language: Language }>(
    db, named('payments.readLanguage', 'SELECT language FROM payments.subscribers WHERE msisdn = $1'), [msisdn],
  )).rows[0]?.language;
}

export async function setLanguage(db: Db, msisdn: string, language: Language): Promise<void> {
  await db.query('UPDATE payments.subscribers SET language = $2, updated_at = now() WHERE msisdn = $1', [msisdn, language]);
}

export async function setCodeGuesses(db: Db, msisdn: string, wrongAt: Date[], lockedUntil: Date | null): Promise<void> {
  await query(db, named('payments.setCodeGuesses',
    'UPDATE payments.subscribers SET code_wrong_at = $2, code_locked_until = $3, updated_at = now() WHERE msisdn = $1'),
  [msisdn, wrongAt, lockedUntil]);
}

export async function setPinFailures(db: Db, msisdn: string, failures: number, locked: boolean): Promise<void> {
  await query(db, named('payments.setPinFailures',
    'UPDATE payments.subscribers SET pin_failures = $2, pin_locked = $3, updated_at = now() WHERE msisdn = $1'),
  [msisdn, failures, locked]);
}

export async function setPinHash(db: Db, msisdn: string, pinHash: string): Promise<void> {
  await db.query(
    'UPDATE payments.subscribers SET pin_hash = $2, pin_failures = 0, pin_locked = false, updated_at = now() WHERE msisdn = $1',
    [msisdn, pinHash],
  );
}

/**
 * What the payer spent this day and month (UTC, the pool's zone) and tried in the last minute.
 * An agent's cash-ins (agent_id set) are its float's, not its own spending: they do not count.
 * Money counts unless the payment failed; velocity counts every attempt, failed ones too, so
 * failing payments on purpose cannot be used to guess codes quickly. A merchant's request counts
 * only once the payer consented: a merchant cannot use up someone's limits by asking.
 */
export async function spentSoFar(client: pg.ClientBase, msisdn: string): Promise<SpendingSoFar> {
  const { rows } = await query<{ today: string; month: string; minute: number }>(
    client, named('payments.spentSoFar', `SELECT
            COALESCE(SUM(amount_minor) FILTER (WHERE state <> 'failed' AND created_at >= date_trunc('day', now())), 0)::text AS today,
            COALESCE(SUM(amount_minor) FILTER (WHERE state <> 'failed'), 0)::text AS month,
            count(*) FILTER (WHERE created_at >= now() - interval '1 minute')::int AS minute
     FROM payments.payments
     WHERE payer_msisdn = $1 AND created_at >= date_trunc('month', now()) AND (channel <> 'api' OR consented) AND agent_id IS NULL`),
    [msisdn],
  );
  const spent = rows[0] as { today: string; month: string; minute: number };
  return { todayMinor: BigInt(spent.today), monthMinor: BigInt(spent.month), paymentsLastMinute: spent.minute };
}

/** `held`: a risk rule held it (risk.ts): inserted 'held', not 'reserving'. */
export async function insertPayment(client: pg.ClientBase, row: {
  paymentId: string; operatorId: string; payerMsisdn: string; currency: string; spec: PaymentSpec; split: PaymentSplit; held?: boolean;
}): Promise<void> {
  const { paymentId, spec, split } = row;
  await query(
    // Its first state goes to payment_history in the same statement (migration 0021): no extra round trip.
    client, named('payments.insertPayment', `WITH p AS (INSERT INTO payments.payments (payment_id, channel, operator_id, short_code,
         payer_msisdn, payee_kind, payee_id, currency, amount_minor, fee_minor, operator_share_minor, payee_minor, reference,
         language, state, request_id, description, confirm_ttl_ms, capture_mode, authorized_minor, mandate_id, consented,
         payee_operator_id, funding, agent_id, payee_wallet_max_minor)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $25, $15, $16, $17, $18, $19, $20,
         $20::text IS NOT NULL, $21, $22, $23, $24)
       RETURNING payment_id, state, challenge_attempts, created_at)
     INSERT INTO payments.payment_history (payment_id, from_state, to_state, challenge_attempts, at)
       SELECT payment_id, NULL, state, challenge_attempts, created_at FROM p`),
    [paymentId, spec.channel, row.operatorId, spec.shortCode, row.payerMsisdn, spec.payee.kind, spec.payee.id, row.currency,
      split.amountMinor.toString(), split.feeMinor.toString(), split.operatorShareMinor.toString(), split.payeeMinor.toString(),
      spec.reference, spec.language, spec.requestId, spec.description ?? '', spec.confirmTtlMs ?? null,
      spec.manualCapture ? 'manual' : 'automatic', spec.manualCapture ? split.amountMinor.toString() : null, spec.mandateId ?? null,
      spec.payeeOperatorId ?? null, spec.funding ?? null, spec.agentId ?? null, spec.payeeWalletMaxMinor?.toString() ?? null,
      row.held ? 'held' : 'reserving'],
  );
}

export async function readPayment(db: Db, paymentId: string): Promise<PaymentRow | undefined> {
  return (await query<PaymentRow>(
    db, named('payments.readPayment', 'SELECT * FROM payments.payments WHERE payment_id = $1'), [paymentId],
  )).rows[0];
}

/**
 * The payment, locked, with what its step may need of the two subscribers read in the same
 * statement (not locked): whether the payer's PIN can answer a challenge, and the payee's
 * language for a receipt. One round trip where a step would otherwise make three.
 */
export async function lockPayment(client: pg.ClientBase, paymentId: string): Promise<PaymentRow | undefined> {
  return (await query<PaymentRow>(
    client, named('payments.lockPayment', `SELECT p.*,
         (payer.pin_hash IS NOT NULL AND NOT payer.pin_locked) IS TRUE AS payer_pin_ready, payee.language AS payee_language
       FROM payments.payments p
       LEFT JOIN payments.subscribers payer ON payer.msisdn = p.payer_msisdn
       LEFT JOIN payments.subscribers payee ON payee.msisdn = p.payee_id AND p.payee_kind <> 'merchant'
      WHERE p.payment_id = $1 FOR UPDATE OF p`),
    [paymentId],
  )).rows[0];
}

/** Whether the payer's PIN can answer a challenge: read with the row (lockPayment), else now. */
export async function payerPinReady(db: Db, payment: PaymentRow): Promise<boolean> {
  if (payment.payer_pin_ready !== undefined) return payment.payer_pin_ready;
  const payer = await readSubscriber(db, payment.payer_msisdn);
  return !!payer?.pin_hash && !payer.pin_locked;
}

/**
 * The payee subscriber's language, undefined for one we have not heard from: read with the row
 * (lockPayment), else now.
 */
export async function payeeLanguage(db: Db, payment: PaymentRow): Promise<Language | undefined> {
  if (payment.payee_language !== undefined) return payment.payee_language ?? undefined;
  return readLanguage(db, payment.payee_id);
}

/** What STOP ends: the payer's payments not yet consented to or captured. */
export async function lockOpenPayments(client: pg.ClientBase, msisdn: string): Promise<PaymentRow[]> {
  return (await client.query<PaymentRow>(
    `SELECT * FROM payments.payments WHERE payer_msisdn = $1 AND state IN ('reserving', 'challenged', 'authorized') FOR UPDATE`, [msisdn],
  )).rows;
}

export async function lockOpenChallenges(client: pg.ClientBase, msisdn: string, rowsMax: number): Promise<PaymentRow[]> {
  return (await query<PaymentRow>(
    client, named('payments.lockOpenChallenges', `SELECT * FROM payments.payments
       WHERE payer_msisdn = $1 AND state = 'challenged' AND channel IN ('sms', 'api') AND expires_at > now()
       ORDER BY created_at DESC LIMIT $2 FOR UPDATE`),
    [msisdn, rowsMax],
  )).rows;
}

export async function lockUssdPayment(client: pg.ClientBase, paymentId: string, msisdn: string): Promise<PaymentRow | undefined> {
  return (await query<PaymentRow>(
    client, named('payments.lockUssdPayment',
      `SELECT * FROM payments.payments WHERE payment_id = $1 AND payer_msisdn = $2 AND channel = 'ussd' FOR UPDATE`),
    [paymentId, msisdn],
  )).rows[0];
}

export async function paymentByRequest(client: pg.ClientBase, requestId: string, msisdn: string): Promise<PaymentRow | undefined> {
  return (await query<PaymentRow>(
    client, named('payments.paymentByRequest', 'SELECT * FROM payments.payments WHERE request_id = $1 AND payer_msisdn = $2'),
    [requestId, msisdn],
  )).rows[0];
}

/**
 * The menu's request ids are "<session id>#<screen>": the prefix names this dialogue's payments.
 * Consented ones go on.
 */
export async function lockUnconsentedOfSession(client: pg.ClientBase, msisdn: string, sessionId: string): Promise<PaymentRow[]> {
  return (await client.query<PaymentRow>(
    `SELECT * FROM payments.payments
       WHERE payer_msisdn = $1 AND channel = 'ussd' AND state IN ('reserving', 'challenged') AND NOT consented
         AND starts_with(request_id, $2) FOR UPDATE`,
    [msisdn, `${sessionId}#`],
  )).rows;
}

export async function setConsented(client: pg.ClientBase, paymentId: string): Promise<void> {
  await query(client, named('payments.setConsented',
    'UPDATE payments.payments SET consented = true, updated_at = now() WHERE payment_id = $1'), [paymentId]);
}

/**
 * What a step's challenge writes: its method, a one-time code's hash (pin: none; ussd: kept as is),
 * and how long it lasts.
 */
export interface ChallengeColumns {
  readonly method: 'pin' | 'code' | 'ussd';
  readonly codeHash: string | null;
  readonly ttlMs: number;
}

/**
 * The next state, and whatever else the step writes on the row, in one statement: `funding`
 * when known (a reserve result's source), the challenge it sends, an authorisation's expiry.
 * A change of state (`from`, the state the caller locked, differs) also appends its row to
 * payment_history in that statement (migration 0021), so the hot path makes no extra round trip.
 */
export async function setState(client: pg.ClientBase, paymentId: string, next: {
  from: string; state: string; challengeAttempts: number; failure: string | null; consented: boolean; funding?: string | null;
  challenge?: ChallengeColumns | null; authorizationTtlMs?: number | null;
}): Promise<void> {
  const challenge = next.challenge ?? null;
  await query(
    client, named('payments.setState', `WITH u AS (UPDATE payments.payments SET state = $2, challenge_attempts = $3,
            failure_reason = COALESCE($4, failure_reason), consented = consented OR $5, funding = COALESCE($6, funding),
            challenge_method = COALESCE($7::text, challenge_method),
            challenge_code_hash = CASE WHEN $7::text IN ('pin', 'code') THEN $8::text ELSE challenge_code_hash END,
            expires_at = CASE WHEN $7::text IS NULL THEN expires_at ELSE now() + ($9::bigint * interval '1 millisecond') END,
            authorization_expires_at = CASE WHEN $10::bigint IS NULL THEN authorization_expires_at
              ELSE now() + ($10::bigint * interval '1 millisecond') END,
            updated_at = now()
      WHERE payment_id = $1 RETURNING payment_id, state, failure_reason, challenge_attempts, updated_at)
     INSERT INTO payments.payment_history (payment_id, from_state, to_state, failure_reason, challenge_attempts, at)
       SELECT payment_id, $11::text, state, failure_reason, challenge_attempts, updated_at FROM u WHERE state <> $11::text`),
    [paymentId, next.state, next.challengeAttempts, next.failure, next.consented, next.funding ?? null,
      challenge?.method ?? null, challenge?.codeHash ?? null, challenge?.ttlMs ?? null, next.authorizationTtlMs ?? null, next.from],
  );
}

export async function confirmVoid(db: Db, paymentId: string): Promise<void> {
  await query(db, named('payments.confirmVoid',
    "UPDATE payments.payments SET void_confirmed = true WHERE payment_id = $1 AND state = 'failed'"), [paymentId]);
}
