-- Up Migration
-- Refunds of captured debits. A row is claimed ('refunding') under the
-- debit's lock, with the sum of the debit's other refunds checked, before the
-- carrier is asked: two refunds at once can never give back more than was
-- captured.
CREATE TABLE refunds (
  refund_id TEXT PRIMARY KEY,
  debit_id TEXT NOT NULL REFERENCES debits (debit_id),
  amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
  state TEXT NOT NULL CHECK (state IN ('refunding', 'refunded', 'refused')),
  detail TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX refunds_debit ON refunds (debit_id);

-- Down Migration
DROP TABLE refunds;
