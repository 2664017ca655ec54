-- Up Migration
-- Settlement windows, one per operator and local day: OPEN -> CLOSED (the
-- batch is computed from the ledger and booked) -> SETTLED (paid out). The
-- batch is stored with the window, so closing twice gives the same batch.
CREATE TABLE windows (
  window_id TEXT PRIMARY KEY,
  operator_id TEXT NOT NULL,
  window_date DATE NOT NULL,
  from_at TIMESTAMPTZ NOT NULL,
  to_at TIMESTAMPTZ NOT NULL CHECK (to_at > from_at),
  currency TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('open', 'closed', 'settled')),
  -- Per-merchant lines and operator totals, amounts as decimal strings of minor units.
  batch JSONB,
  closed_at TIMESTAMPTZ,
  settled_at TIMESTAMPTZ,
  UNIQUE (operator_id, window_date)
);
CREATE INDEX windows_state ON windows (state, to_at);

-- Down Migration
DROP TABLE windows;
