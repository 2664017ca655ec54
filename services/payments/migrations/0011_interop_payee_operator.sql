-- Up Migration
-- A transfer's payee's operator, found from the number's range when the
-- payment was opened (services/payments/transfers.ts): the payee's receipt
-- goes through its link, and billing books the inter-operator position when
-- it is not the payer's operator. NULL for merchant payments and for
-- transfers opened before number ranges (those stayed on the payer's operator).
ALTER TABLE payments ADD COLUMN payee_operator_id TEXT;

-- Down Migration
ALTER TABLE payments DROP COLUMN payee_operator_id;
