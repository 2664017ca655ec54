-- Up Migration
-- The carrier's own id for a debit's reservation, when it is not our debit id:
-- CAMARA Carrier Billing's paymentId, learnt from POST /payments/prepare and
-- needed by confirm, cancel and refunds. NULL for adapters keyed by our id.
ALTER TABLE debits ADD COLUMN carrier_ref TEXT;

-- Down Migration
ALTER TABLE debits DROP COLUMN carrier_ref;
