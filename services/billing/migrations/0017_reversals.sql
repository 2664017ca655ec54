-- Up Migration
-- Reversals (issue 19, `dialpay payment reverse`): a transfer sent to the wrong number taken back
-- from the payee's wallet, at most what is still there, into the payer's. One credit per reversed
-- payment, id reversal-<payment_id>, booked as transfer reversal:<payment_id> of kind 'reversal'
-- (subscriber:<payee> -> subscriber:<payer>). msisdn is the wallet credited (the payer);
-- debited_msisdn the wallet it came from (the payee), whose mini statement shows it as money out.
ALTER TABLE transfers DROP CONSTRAINT transfers_kind_check;
ALTER TABLE transfers ADD CONSTRAINT transfers_kind_check
  CHECK (kind IN ('reserve', 'capture', 'void', 'refund', 'deposit', 'transfer', 'credit', 'reversal'));
ALTER TABLE credits DROP CONSTRAINT credits_source_check;
ALTER TABLE credits ADD CONSTRAINT credits_source_check CHECK (source IN ('operator-deposit', 'merchant-payout', 'reversal', 'unknown'));
ALTER TABLE credits ADD COLUMN debited_msisdn TEXT NOT NULL DEFAULT '';
CREATE INDEX credits_debited_booked ON credits (debited_msisdn, created_at DESC) WHERE outcome = 'ok' AND source = 'reversal';

-- Down Migration
DROP INDEX credits_debited_booked;
ALTER TABLE credits DROP COLUMN debited_msisdn;
ALTER TABLE credits DROP CONSTRAINT credits_source_check;
ALTER TABLE credits ADD CONSTRAINT credits_source_check CHECK (source IN ('operator-deposit', 'merchant-payout', 'unknown'));
ALTER TABLE transfers DROP CONSTRAINT transfers_kind_check;
ALTER TABLE transfers ADD CONSTRAINT transfers_kind_check CHECK (kind IN ('reserve', 'capture', 'void', 'refund', 'deposit', 'transfer', 'credit'));
