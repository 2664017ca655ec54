-- Up Migration
-- One row per two-phase debit: what was reserved, through which adapter, and
-- how it ended. The ledger holds the money; this holds the debit's state.
CREATE TABLE debits (
  debit_id TEXT PRIMARY KEY CHECK (length(debit_id) BETWEEN 1 AND 128),
  payment_id TEXT NOT NULL,
  operator_id TEXT NOT NULL,
  msisdn TEXT NOT NULL,
  currency TEXT NOT NULL,
  amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
  payer_account_id TEXT NOT NULL,
  adapter TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('reserved', 'captured', 'voided', 'refused')),
  captured_minor BIGINT NOT NULL DEFAULT 0 CHECK (captured_minor >= 0 AND captured_minor <= amount_minor),
  detail TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX debits_payment ON debits (payment_id);

-- Down Migration
DROP TABLE debits;
