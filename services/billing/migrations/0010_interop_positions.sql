-- Up Migration
-- Inter-operator positions: one per captured transfer whose payee is another
-- operator's subscriber (services/billing/interop.ts). The payer's operator
-- collected the amount from its subscriber; the payee's wallet was credited;
-- so the payer's operator owes the payee's operator the amount. Written in
-- the transaction that marks the debit captured, keyed by the debit id, so a
-- redelivered capture books it once. Settlement nets them per UTC day.
CREATE TABLE interop_positions (
  debit_id TEXT PRIMARY KEY,
  payment_id TEXT NOT NULL,
  payer_operator_id TEXT NOT NULL,
  payee_operator_id TEXT NOT NULL CHECK (payee_operator_id <> payer_operator_id),
  currency TEXT NOT NULL,
  amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
  booked_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX interop_positions_booked ON interop_positions (booked_at);

-- Down Migration
DROP TABLE interop_positions;
