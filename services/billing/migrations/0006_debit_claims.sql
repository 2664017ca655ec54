-- Up Migration
-- A debit is claimed ('reserving') before the carrier is called, so a void that
-- arrives meanwhile waits instead of finding nothing; a void that arrives
-- before any reserve leaves a tombstone ('voided', amount 0) so the late
-- reserve is refused instead of holding money nobody will release.
ALTER TABLE debits DROP CONSTRAINT debits_state_check;
ALTER TABLE debits ADD CONSTRAINT debits_state_check CHECK (state IN ('reserving', 'reserved', 'captured', 'voided', 'refused'));
ALTER TABLE debits DROP CONSTRAINT debits_amount_minor_check;
ALTER TABLE debits ADD CONSTRAINT debits_amount_minor_check CHECK (amount_minor > 0 OR (state = 'voided' AND amount_minor = 0));
ALTER TABLE debits DROP CONSTRAINT debits_check;
ALTER TABLE debits ADD CONSTRAINT debits_captured_minor_check CHECK (captured_minor >= 0 AND (amount_minor = 0 OR captured_minor <= amount_minor));

-- Down Migration
ALTER TABLE debits DROP CONSTRAINT debits_captured_minor_check;
ALTER TABLE debits ADD CONSTRAINT debits_check CHECK (captured_minor >= 0 AND captured_minor <= amount_minor);
ALTER TABLE debits DROP CONSTRAINT debits_amount_minor_check;
ALTER TABLE debits ADD CONSTRAINT debits_amount_minor_check CHECK (amount_minor > 0);
ALTER TABLE debits DROP CONSTRAINT debits_state_check;
ALTER TABLE debits ADD CONSTRAINT debits_state_check CHECK (state IN ('reserved', 'captured', 'voided', 'refused'));
