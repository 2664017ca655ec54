-- Up Migration
-- Airtime (slice "airtime"): a payment may buy airtime for a line (payee_id = the line's E.164
-- number, the payer's own or another), topped up by that line's operator after the capture.
ALTER TABLE payments DROP CONSTRAINT payments_payee_kind_check;
ALTER TABLE payments ADD CONSTRAINT payments_payee_kind_check CHECK (payee_kind IN ('merchant', 'subscriber', 'airtime'));

-- Down Migration
ALTER TABLE payments DROP CONSTRAINT payments_payee_kind_check;
ALTER TABLE payments ADD CONSTRAINT payments_payee_kind_check CHECK (payee_kind IN ('merchant', 'subscriber'));
