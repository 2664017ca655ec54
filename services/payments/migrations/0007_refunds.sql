-- Up Migration
-- Refunds a merchant asked for. Pending and completed ones count toward the
-- payment's refunded total, so together they never pass the captured amount.
CREATE TABLE refunds (
  refund_id TEXT PRIMARY KEY,
  payment_id TEXT NOT NULL REFERENCES payments (payment_id),
  amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
  state TEXT NOT NULL CHECK (state IN ('pending', 'completed', 'failed')),
  detail TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX refunds_payment ON refunds (payment_id);

-- Down Migration
DROP TABLE refunds;
