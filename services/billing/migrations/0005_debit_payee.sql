-- Up Migration
-- Who received a captured debit, for the mini statement.
ALTER TABLE debits ADD COLUMN payee TEXT NOT NULL DEFAULT '';
CREATE INDEX debits_msisdn_updated ON debits (msisdn, updated_at DESC) WHERE state = 'captured';

-- Down Migration
DROP INDEX debits_msisdn_updated;
ALTER TABLE debits DROP COLUMN payee;
