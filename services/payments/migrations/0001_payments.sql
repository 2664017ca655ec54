-- Up Migration
-- Subscribers as payments knows them (language, KYC tier, PIN) and payments
-- as a persisted state machine. Every change commits with its events (outbox).
CREATE TABLE subscribers (
  msisdn TEXT PRIMARY KEY CHECK (msisdn ~ '^[0-9]{7,15}$'),
  language TEXT NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'fr')),
  kyc_tier INT NOT NULL DEFAULT 0,
  pin_hash TEXT,
  pin_failures INT NOT NULL DEFAULT 0,
  pin_locked BOOLEAN NOT NULL DEFAULT false,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE payments (
  payment_id TEXT PRIMARY KEY,
  channel TEXT NOT NULL CHECK (channel IN ('sms', 'ussd', 'api')),
  operator_id TEXT NOT NULL,
  short_code TEXT NOT NULL,
  payer_msisdn TEXT NOT NULL REFERENCES subscribers (msisdn),
  payee_kind TEXT NOT NULL CHECK (payee_kind IN ('merchant', 'subscriber')),
  payee_id TEXT NOT NULL,
  currency TEXT NOT NULL,
  amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
  fee_minor BIGINT NOT NULL CHECK (fee_minor >= 0),
  operator_share_minor BIGINT NOT NULL CHECK (operator_share_minor >= 0),
  payee_minor BIGINT NOT NULL CHECK (payee_minor > 0),
  reference TEXT NOT NULL DEFAULT '',
  language TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('reserving', 'challenged', 'capturing', 'completed', 'failed')),
  challenge_method TEXT CHECK (challenge_method IN ('code', 'pin')),
  challenge_code_hash TEXT,
  challenge_attempts INT NOT NULL DEFAULT 0,
  expires_at TIMESTAMPTZ,
  failure_reason TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  -- The split always adds up to the amount, to the last minor unit.
  CHECK (fee_minor + operator_share_minor + payee_minor = amount_minor)
);
CREATE INDEX payments_payer_created ON payments (payer_msisdn, created_at);
CREATE INDEX payments_open ON payments (payer_msisdn, created_at DESC) WHERE state IN ('reserving', 'challenged');
CREATE INDEX payments_expiry ON payments (expires_at) WHERE state = 'challenged';

-- Down Migration
DROP TABLE payments;
DROP TABLE subscribers;
