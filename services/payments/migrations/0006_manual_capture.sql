-- Up Migration
-- Manual capture, for metered services: the payer authorizes up to
-- authorized_minor, the merchant captures the amount used (then amount_minor
-- and its split are the captured amount), and an authorization the merchant
-- never captures expires and is voided.
ALTER TABLE payments DROP CONSTRAINT payments_state_check;
ALTER TABLE payments ADD CONSTRAINT payments_state_check CHECK (state IN ('reserving', 'challenged', 'authorized', 'capturing', 'completed', 'failed'));
ALTER TABLE payments ADD COLUMN capture_mode TEXT NOT NULL DEFAULT 'automatic' CHECK (capture_mode IN ('automatic', 'manual'));
ALTER TABLE payments ADD COLUMN authorized_minor BIGINT CHECK (authorized_minor > 0);
ALTER TABLE payments ADD COLUMN authorization_expires_at TIMESTAMPTZ;
CREATE INDEX payments_authorization_expiry ON payments (authorization_expires_at) WHERE state = 'authorized';

-- Down Migration
DROP INDEX payments_authorization_expiry;
ALTER TABLE payments DROP COLUMN authorization_expires_at;
ALTER TABLE payments DROP COLUMN authorized_minor;
ALTER TABLE payments DROP COLUMN capture_mode;
ALTER TABLE payments DROP CONSTRAINT payments_state_check;
ALTER TABLE payments ADD CONSTRAINT payments_state_check CHECK (state IN ('reserving', 'challenged', 'capturing', 'completed', 'failed'));
