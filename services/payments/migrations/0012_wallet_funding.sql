-- Up Migration
-- Where a payment's money comes from: the payer's dialpay wallet or their
-- carrier account. Set when it was promised (the USSD confirmation screen
-- says which before the payer confirms) or when billing reserved it (the SMS
-- challenge says which); NULL until then.
ALTER TABLE payments ADD COLUMN funding TEXT CHECK (funding IN ('wallet', 'carrier'));

-- Down Migration
ALTER TABLE payments DROP COLUMN funding;
