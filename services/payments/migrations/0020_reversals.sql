-- Up Migration
-- `dialpay payment reverse` (issue 19): customer care reverses a transfer sent to the wrong number.
-- One reversal per payment (its primary key): asking again finds it. The request is written with the
-- CreditRequested that asks billing to book it (credit id reversal-<payment_id>, transfer
-- reversal:<payment_id>); billing's CreditResult appends its outcome. Both tables are append-only:
-- the database refuses UPDATE, DELETE and TRUNCATE (refuse_audit_change, 0017).
CREATE TABLE reversals (
  payment_id TEXT PRIMARY KEY REFERENCES payments (payment_id),
  operator_id TEXT NOT NULL,
  payer_msisdn TEXT NOT NULL CHECK (payer_msisdn ~ '^[0-9]{7,15}$'),
  payee_msisdn TEXT NOT NULL CHECK (payee_msisdn ~ '^[0-9]{7,15}$' AND payee_msisdn <> payer_msisdn),
  currency TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  -- What the original transfer put in the payee's wallet (its fee is not returned).
  asked_minor BIGINT NOT NULL CHECK (asked_minor > 0),
  requested_by TEXT NOT NULL CHECK (requested_by <> '' AND length(requested_by) <= 200),
  reason TEXT NOT NULL CHECK (reason <> '' AND length(reason) <= 200),
  requested_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE reversal_outcomes (
  payment_id TEXT PRIMARY KEY REFERENCES reversals (payment_id),
  -- reversed: all of asked_minor; partial: less (the payee had spent some); refused: nothing moved.
  outcome TEXT NOT NULL CHECK (outcome IN ('reversed', 'partial', 'refused')),
  reversed_minor BIGINT NOT NULL CHECK (reversed_minor >= 0),
  detail TEXT NOT NULL DEFAULT '' CHECK (length(detail) <= 500),
  decided_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  CHECK ((outcome = 'refused') = (reversed_minor = 0))
);

CREATE TRIGGER reversals_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON reversals
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER reversal_outcomes_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON reversal_outcomes
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();

-- Down Migration
DROP TABLE reversal_outcomes;
DROP TABLE reversals;
