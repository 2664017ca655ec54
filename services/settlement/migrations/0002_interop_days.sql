-- Up Migration
-- Operator-to-operator settlement, one row per UTC day once it is closed:
-- the net position of each pair of operators per currency, from billing's
-- inter-operator positions (services/settlement/interop.ts). The lines are
-- stored, so closing a day twice gives the same report.
CREATE TABLE interop_days (
  window_date DATE PRIMARY KEY,
  from_at TIMESTAMPTZ NOT NULL,
  to_at TIMESTAMPTZ NOT NULL CHECK (to_at > from_at),
  -- PairLine[] (interop-arithmetic.ts), amounts as decimal strings of minor units.
  lines JSONB NOT NULL,
  closed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE interop_days;
