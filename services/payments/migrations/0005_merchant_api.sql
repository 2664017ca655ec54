-- Up Migration
-- Payments asked for through the merchant API: a description, and how long
-- the payer has to confirm when the merchant says so. api_requests keeps the
-- reply to every POST under its Idempotency-Key, with a hash of the body, so
-- a retry gets the same answer and a reused key with another body is refused.
ALTER TABLE payments ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE payments ADD COLUMN confirm_ttl_ms INT CHECK (confirm_ttl_ms > 0);
CREATE INDEX payments_payee_created ON payments (payee_kind, payee_id, created_at DESC, payment_id DESC);

CREATE TABLE api_requests (
  merchant_id TEXT NOT NULL,
  idempotency_key TEXT NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
  body_sha256 BYTEA NOT NULL CHECK (length(body_sha256) = 32),
  -- The encoded MerchantCommandReply; null only inside the transaction that writes it.
  reply BYTEA,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (merchant_id, idempotency_key)
);
CREATE INDEX api_requests_created ON api_requests (created_at);

-- Down Migration
DROP TABLE api_requests;
DROP INDEX payments_payee_created;
ALTER TABLE payments DROP COLUMN confirm_ttl_ms;
ALTER TABLE payments DROP COLUMN description;
