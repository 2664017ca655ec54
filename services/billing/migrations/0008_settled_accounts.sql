-- Up Migration
-- Settlement moves what a window owes from payable accounts to settled ones:
-- a merchant's net payable, and the operator's revenue share.
ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_kind_check CHECK (kind IN ('subscriber', 'merchant_payable', 'fee_revenue', 'operator_share', 'holds', 'carrier_clearing', 'suspense', 'merchant_settled', 'operator_settled'));
CREATE INDEX transfers_kind_created ON transfers (kind, created_at) WHERE kind IN ('capture', 'refund');

-- Down Migration
DROP INDEX transfers_kind_created;
ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_kind_check CHECK (kind IN ('subscriber', 'merchant_payable', 'fee_revenue', 'operator_share', 'holds', 'carrier_clearing', 'suspense'));
