-- Up Migration
-- Risk holds (holds.ts): a payment a risk rule stopped waits in 'held' (nothing reserved, no challenge sent)
-- for customer care, who release it (it goes on to its reserve and challenge) or reject it (failed).
ALTER TABLE payments DROP CONSTRAINT payments_state_check;
ALTER TABLE payments ADD CONSTRAINT payments_state_check
  CHECK (state IN ('reserving', 'held', 'challenged', 'authorized', 'capturing', 'completed', 'failed'));

-- One case per held payment. Its status is not a column: it is what its events say (care_case_events).
CREATE TABLE care_cases (
  case_id BIGSERIAL PRIMARY KEY,
  operator_id TEXT NOT NULL,
  msisdn TEXT NOT NULL,
  payment_id TEXT NOT NULL UNIQUE REFERENCES payments (payment_id),
  -- The rule that held it: distinct-payees, new-payee, merchant-spike (risk-rules.ts), or billing's (sim-swap).
  rule TEXT NOT NULL CHECK (rule <> ''),
  opened_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX care_cases_operator_opened ON care_cases (operator_id, opened_at DESC, case_id DESC);

-- What happened to a case, and who did it: append-only, so a decision cannot be rewritten afterwards.
-- A case has one 'opened' and at most one decision (released, rejected or expired).
CREATE TABLE care_case_events (
  id BIGSERIAL PRIMARY KEY,
  case_id BIGINT NOT NULL REFERENCES care_cases (case_id),
  event TEXT NOT NULL CHECK (event IN ('opened', 'released', 'rejected', 'expired')),
  by TEXT NOT NULL CHECK (by <> ''),
  reason TEXT NOT NULL DEFAULT '',
  at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX care_case_events_opened ON care_case_events (case_id) WHERE event = 'opened';
CREATE UNIQUE INDEX care_case_events_decided ON care_case_events (case_id) WHERE event <> 'opened';
CREATE TRIGGER care_case_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON care_case_events
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();

-- The sweep's held payments past risk.holdTtlMs, and a released one's reserve (asked again long after the
-- payment was created: the unanswered-reserve sweep reads updated_at too).
CREATE INDEX payments_held_updated ON payments (updated_at) WHERE state = 'held';
-- The new-payee rule: has this payer ever completed a payment to this payee?
CREATE INDEX payments_payer_payee_completed ON payments (payer_msisdn, payee_kind, payee_id) WHERE state = 'completed';

-- Down Migration
DROP INDEX payments_payer_payee_completed;
DROP INDEX payments_held_updated;
DROP TABLE care_case_events;
DROP TABLE care_cases;
ALTER TABLE payments DROP CONSTRAINT payments_state_check;
ALTER TABLE payments ADD CONSTRAINT payments_state_check
  CHECK (state IN ('reserving', 'challenged', 'authorized', 'capturing', 'completed', 'failed'));
