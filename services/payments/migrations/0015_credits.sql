-- Up Migration
-- Credits (issue 16): money into a subscriber's dialpay wallet with no payer to confirm it, an
-- operator's deposit (POST /v1/operator/deposits) or a merchant's payout (POST /v1/payouts).
-- payments keeps the record and asks billing to book it (CreditRequested, through the outbox, in
-- the transaction that inserts the row); billing's CreditResult ends it (services/payments/credits.ts).
-- The caller's Idempotency-Key is kept here for good (payments.api_requests forgets replies after a
-- day): a key used again, however late, finds its credit and never books a second one.
CREATE TABLE credits (
  credit_id UUID PRIMARY KEY,
  source TEXT NOT NULL CHECK (source IN ('operator-deposit', 'merchant-payout')),
  -- The subscriber's operator (for a deposit, the calling operator).
  operator_id TEXT NOT NULL,
  merchant_id TEXT,
  msisdn TEXT NOT NULL CHECK (msisdn ~ '^[0-9]{7,15}$'),
  currency TEXT NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
  reference TEXT NOT NULL DEFAULT '' CHECK (length(reference) <= 40),
  -- Whose Idempotency-Key it is: a merchant's id, or 'operator:<id>' (as in api_requests.merchant_id).
  idempotency_scope TEXT NOT NULL,
  idempotency_key TEXT NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
  body_sha256 BYTEA NOT NULL CHECK (length(body_sha256) = 32),
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'completed', 'failed')),
  -- failed: insufficient-balance, wallet-balance-max or rejected.
  failure TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  CHECK ((source = 'merchant-payout') = (merchant_id IS NOT NULL)),
  CHECK ((state = 'failed') = (failure IS NOT NULL)),
  UNIQUE (idempotency_scope, idempotency_key)
);
-- A merchant's payouts, newest first (GET /v1/payouts) and since midnight (the per-day limit).
CREATE INDEX credits_merchant_created ON credits (merchant_id, created_at DESC, credit_id DESC) WHERE merchant_id IS NOT NULL;

-- Down Migration
DROP TABLE credits;
