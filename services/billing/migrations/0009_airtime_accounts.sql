-- Up Migration
-- Airtime (slice "airtime"): the money a payer pays for airtime is captured to the airtime
-- account of the target line's operator, what we owe that operator for the airtime it credits.
ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_kind_check CHECK (kind IN ('subscriber', 'merchant_payable', 'fee_revenue', 'operator_share', 'holds', 'carrier_clearing', 'suspense', 'merchant_settled', 'operator_settled', 'airtime_payable'));

-- Down Migration
ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_kind_check CHECK (kind IN ('subscriber', 'merchant_payable', 'fee_revenue', 'operator_share', 'holds', 'carrier_clearing', 'suspense', 'merchant_settled', 'operator_settled'));
