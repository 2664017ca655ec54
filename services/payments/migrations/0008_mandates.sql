-- Up Migration
-- Mandates: a merchant may charge a subscriber without a new confirmation,
-- up to cap_minor per calendar period, once the subscriber confirmed it by
-- SMS (the code is kept only as a hash). STOP revokes every active mandate of
-- the number at once. A payment charged under a mandate names it.
CREATE TABLE mandates (
  mandate_id TEXT PRIMARY KEY,
  merchant_id TEXT NOT NULL,
  operator_id TEXT NOT NULL,
  payer_msisdn TEXT NOT NULL REFERENCES subscribers (msisdn),
  currency TEXT NOT NULL,
  cap_minor BIGINT NOT NULL CHECK (cap_minor > 0),
  period TEXT NOT NULL CHECK (period IN ('day', 'week', 'month')),
  reference TEXT NOT NULL DEFAULT '',
  description TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL CHECK (state IN ('pending', 'active', 'declined', 'expired', 'revoked')),
  code_hash TEXT,
  attempts INT NOT NULL DEFAULT 0,
  expires_at TIMESTAMPTZ NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX mandates_payer_state ON mandates (payer_msisdn, state);
ALTER TABLE payments ADD COLUMN mandate_id TEXT REFERENCES mandates (mandate_id);
CREATE INDEX payments_mandate_created ON payments (mandate_id, created_at) WHERE mandate_id IS NOT NULL;

-- Down Migration
DROP INDEX payments_mandate_created;
ALTER TABLE payments DROP COLUMN mandate_id;
DROP TABLE mandates;
