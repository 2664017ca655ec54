-- Up Migration
-- The sweep looks for three things twice a second; each gets a small partial index.
CREATE INDEX payments_reserving_created ON payments (created_at) WHERE state = 'reserving';
CREATE INDEX payments_capturing_updated ON payments (updated_at) WHERE state = 'capturing';

-- Down Migration
DROP INDEX payments_capturing_updated;
DROP INDEX payments_reserving_created;
