-- Up Migration
-- A failed payment asks billing to void its debit until billing confirms, so a void that was lost
-- or dead-lettered cannot leave money held.
ALTER TABLE payments ADD COLUMN void_confirmed BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX payments_void_pending ON payments (updated_at) WHERE state = 'failed' AND NOT void_confirmed;

-- Down Migration
DROP INDEX payments_void_pending;
ALTER TABLE payments DROP COLUMN void_confirmed;
