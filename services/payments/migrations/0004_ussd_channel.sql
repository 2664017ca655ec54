-- Up Migration
-- USSD payments: consent is the PIN (checked before the reserve) plus the
-- confirmation screen, so their challenge sends no SMS. A confirmation may
-- arrive before the carrier answers the reserve; it is kept until then.
-- request_id makes a repeated USSD hop find the payment it already started.
ALTER TABLE payments DROP CONSTRAINT payments_challenge_method_check;
ALTER TABLE payments ADD CONSTRAINT payments_challenge_method_check CHECK (challenge_method IN ('code', 'pin', 'ussd'));
ALTER TABLE payments ADD COLUMN consented BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE payments ADD COLUMN request_id TEXT UNIQUE;

-- Down Migration
ALTER TABLE payments DROP COLUMN request_id;
ALTER TABLE payments DROP COLUMN consented;
ALTER TABLE payments DROP CONSTRAINT payments_challenge_method_check;
ALTER TABLE payments ADD CONSTRAINT payments_challenge_method_check CHECK (challenge_method IN ('code', 'pin'));
