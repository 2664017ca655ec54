-- Up Migration
-- A credit (payments.credits) or a reversal (payments.reversals) is asked of billing once, through the
-- outbox. When billing dead-letters the request, or payments dead-letters billing's answer, nothing
-- would end it: the sweep asks again (services/payments/credit-retries.ts), and billing, which
-- decides a credit once, answers it again. This is the sweep's note of how often and when it last
-- asked (reversals are append-only, so the note cannot live on their rows).
CREATE TABLE credit_asks (
  -- payments.credits.credit_id, or reversal-<payment_id> (credit.proto's credit id).
  credit_id TEXT PRIMARY KEY CHECK (length(credit_id) BETWEEN 1 AND 64),
  asks INT NOT NULL CHECK (asks > 0),
  asked_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- The sweep looks for pending credits twice a second: only the pending ones are indexed.
CREATE INDEX credits_pending ON credits (created_at) WHERE state = 'pending';

-- Down Migration
DROP INDEX credits_pending;
DROP TABLE credit_asks;
