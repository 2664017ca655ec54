-- Up Migration
-- A merchant's request counts against the payer's limits only once the payer
-- consented (consented, set by a right answer; a mandate charge was consented
-- in advance). Requests answered before this migration were consented.
UPDATE payments SET consented = true
  WHERE channel = 'api' AND (mandate_id IS NOT NULL OR state IN ('authorized', 'capturing', 'completed'));
-- Wrong one-time codes per subscriber over all their open challenges
-- (code-guesses.ts): the recent wrong comparisons, at most
-- limits.wrongAnswersPerSubscriberMax of them, and the lockout they led to.
ALTER TABLE subscribers ADD COLUMN code_wrong_at TIMESTAMPTZ[] NOT NULL DEFAULT '{}';
ALTER TABLE subscribers ADD COLUMN code_locked_until TIMESTAMPTZ;

-- Down Migration
ALTER TABLE subscribers DROP COLUMN code_locked_until;
ALTER TABLE subscribers DROP COLUMN code_wrong_at;
