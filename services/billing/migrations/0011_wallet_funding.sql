-- Up Migration
-- Where each debit's money comes from: the subscriber's dialpay wallet (the
-- ledger account subscriber:<msisdn>, balance-checked) or their carrier
-- account. A carrier-billed operator's debit tries the wallet first; a
-- wallet-funded debit never calls the carrier to capture, release or refund.
ALTER TABLE debits ADD COLUMN funding TEXT NOT NULL DEFAULT 'carrier' CHECK (funding IN ('wallet', 'carrier'));
UPDATE debits SET funding = 'wallet' WHERE adapter = 'wallet';
-- The mini statement's money in: transfers received by a subscriber.
CREATE INDEX debits_payee_updated ON debits (payee, updated_at DESC) WHERE state = 'captured';

-- Down Migration
DROP INDEX debits_payee_updated;
ALTER TABLE debits DROP COLUMN funding;
