-- Up Migration
-- apply_transfers, cheaper per batch (issue 15), same signature and answers
-- as 0004. Profiles showed the fast path spending most of its time looking
-- accounts up once per transfer (a join of generate_subscripts x unnest
-- against accounts, planned as a scan of accounts per transfer) and in
-- statements that planned anew each call. Now:
--   * the batch's postings are flattened once into three arrays (owner
--     transfer, account, delta), and every later statement reads those;
--   * one statement looks every posting's account up, once: an account that
--     does not exist or is in another currency fails the batch (as before,
--     the caller retries one by one and throws), and it tells whether any
--     balance-checked account is in the batch at all, and whether one goes down;
--   * balance-checked accounts are locked (id order, as before) and updated
--     only when the batch has some;
--   * the fast path writes transfers and postings in one statement: postings
--     only for the transfers that statement inserted.
-- The rules stay where they were: every transfer is balanced (checked by the
-- caller before it is queued), a balance-checked account is debited only by
-- an UPDATE that refuses to take it below zero, in this statement, the
-- transfer id makes it idempotent, and the foreign keys of postings stay.
CREATE OR REPLACE FUNCTION apply_transfers(
  p_ids TEXT[], p_kinds TEXT[], p_reserve_ids TEXT[], p_payment_ids TEXT[], p_currencies TEXT[], p_amounts BIGINT[],
  p_starts INT[], p_counts INT[], p_accounts TEXT[], p_deltas BIGINT[]
) RETURNS TEXT[] LANGUAGE plpgsql
-- The tables are this schema's, whatever the caller's search_path.
SET search_path FROM CURRENT
AS $$
DECLARE
  n INT := coalesce(array_length(p_ids, 1), 0);
  results TEXT[] := '{}';
  -- The batch's postings, flattened: posting k belongs to transfer owners[k].
  owners INT[];
  accts TEXT[];
  deltas BIGINT[];
  bad_account TEXT;
  has_checked BOOLEAN;
  debits_checked BOOLEAN;
  applied TEXT[];
  i INT;
  s INT;
  e INT;
  change RECORD;
  failed TEXT;
  done TEXT[];
BEGIN
  IF n = 0 THEN
    RETURN results;
  END IF;
  SELECT array_agg(t.i), array_agg(p_accounts[k]), array_agg(p_deltas[k])
    INTO owners, accts, deltas
    FROM generate_subscripts(p_ids, 1) AS t(i), generate_series(p_starts[t.i], p_starts[t.i] + p_counts[t.i] - 1) AS k;
  -- Every account once: missing or in another currency fails the batch (a bug); and are any balance-checked?
  SELECT min(x.account) FILTER (WHERE a.id IS NULL OR a.currency <> p_currencies[x.i]),
         coalesce(bool_or(a.balance_minor IS NOT NULL), false),
         coalesce(bool_or(a.balance_minor IS NOT NULL AND x.delta < 0), false)
    INTO bad_account, has_checked, debits_checked
    FROM unnest(owners, accts, deltas) AS x(i, account, delta)
    LEFT JOIN accounts a ON a.id = x.account;
  IF bad_account IS NOT NULL THEN
    IF EXISTS (SELECT 1 FROM accounts WHERE id = bad_account) THEN
      RAISE EXCEPTION 'batch has a posting to an account in another currency (%)', bad_account;
    END IF;
    RAISE EXCEPTION 'batch has a posting to an account that does not exist (%)', bad_account USING ERRCODE = 'foreign_key_violation';
  END IF;
  -- Lock every balance-checked account of the batch up front, in id order: two batches (or a
  -- batch and a single transfer, which locks its own accounts in id order too) never deadlock.
  IF has_checked THEN
    PERFORM 1 FROM accounts WHERE id = ANY (accts) AND balance_minor IS NOT NULL ORDER BY id FOR UPDATE;
  END IF;
  IF NOT debits_checked AND (SELECT count(DISTINCT x) FROM unnest(p_ids) AS x) = n THEN
    -- Nothing can be refused for funds: transfers and their postings in one statement.
    WITH candidates AS (
      SELECT t.i FROM generate_subscripts(p_ids, 1) AS t(i)
      WHERE p_reserve_ids[t.i] IS NULL OR p_kinds[t.i] NOT IN ('capture', 'void')
         OR NOT EXISTS (SELECT 1 FROM transfers s WHERE s.reserve_id = p_reserve_ids[t.i] AND s.kind IN ('capture', 'void') AND s.id <> p_ids[t.i])
    ), inserted AS (
      INSERT INTO transfers (id, kind, reserve_id, payment_id, currency, amount_minor)
      SELECT p_ids[c.i], p_kinds[c.i], p_reserve_ids[c.i], p_payment_ids[c.i], p_currencies[c.i], p_amounts[c.i] FROM candidates c
      ON CONFLICT (id) DO NOTHING
      RETURNING id
    ), posted AS (
      INSERT INTO postings (transfer_id, account_id, amount_minor)
      SELECT ins.id, x.account, x.delta
      FROM unnest(owners, accts, deltas) AS x(i, account, delta) JOIN inserted ins ON ins.id = p_ids[x.i]
    )
    SELECT coalesce(array_agg(id), '{}') INTO applied FROM inserted;
    IF has_checked THEN
      UPDATE accounts a SET balance_minor = a.balance_minor + d.delta
        FROM (SELECT x.account, sum(x.delta) AS delta FROM unnest(owners, accts, deltas) AS x(i, account, delta)
              WHERE p_ids[x.i] = ANY (applied) GROUP BY x.account) d
        WHERE a.id = d.account AND a.balance_minor IS NOT NULL;
    END IF;
    FOR i IN 1 .. n LOOP
      IF p_ids[i] = ANY (applied) THEN
        results := results || 'applied'::TEXT;
      ELSIF EXISTS (SELECT 1 FROM transfers WHERE id = p_ids[i] AND kind = p_kinds[i] AND amount_minor = p_amounts[i]) THEN
        results := results || 'duplicate'::TEXT;
      ELSIF EXISTS (SELECT 1 FROM transfers WHERE id = p_ids[i]) THEN
        results := results || 'conflict'::TEXT;
      ELSE
        results := results || 'already-settled'::TEXT;
      END IF;
    END LOOP;
    RETURN results;
  END IF;
  -- Some transfer debits a balance-checked account: one at a time, each refused on its own.
  FOR i IN 1 .. n LOOP
    s := p_starts[i];
    e := p_starts[i] + p_counts[i] - 1;
    INSERT INTO transfers (id, kind, reserve_id, payment_id, currency, amount_minor)
      SELECT p_ids[i], p_kinds[i], p_reserve_ids[i], p_payment_ids[i], p_currencies[i], p_amounts[i]
      WHERE p_reserve_ids[i] IS NULL OR p_kinds[i] NOT IN ('capture', 'void')
         OR NOT EXISTS (SELECT 1 FROM transfers t WHERE t.reserve_id = p_reserve_ids[i] AND t.kind IN ('capture', 'void') AND t.id <> p_ids[i])
      ON CONFLICT (id) DO NOTHING;
    IF NOT FOUND THEN
      IF EXISTS (SELECT 1 FROM transfers WHERE id = p_ids[i] AND kind = p_kinds[i] AND amount_minor = p_amounts[i]) THEN
        results := results || 'duplicate'::TEXT;
      ELSIF EXISTS (SELECT 1 FROM transfers WHERE id = p_ids[i]) THEN
        results := results || 'conflict'::TEXT;
      ELSE
        results := results || 'already-settled'::TEXT;
      END IF;
      CONTINUE;
    END IF;
    -- Balance-checked accounts, net change per account, in id order (no deadlocks); undone if one would go negative.
    failed := NULL;
    done := '{}';
    FOR change IN
      SELECT d.account, sum(d.delta) AS delta
      FROM unnest(p_accounts[s:e], p_deltas[s:e]) AS d(account, delta)
      JOIN accounts a ON a.id = d.account AND a.balance_minor IS NOT NULL
      GROUP BY d.account ORDER BY d.account
    LOOP
      UPDATE accounts SET balance_minor = balance_minor + change.delta WHERE id = change.account AND balance_minor + change.delta >= 0;
      IF NOT FOUND THEN
        failed := change.account;
        EXIT;
      END IF;
      done := done || change.account;
    END LOOP;
    IF failed IS NOT NULL THEN
      UPDATE accounts a SET balance_minor = a.balance_minor - d.delta
        FROM (SELECT x.account, sum(x.delta) AS delta FROM unnest(p_accounts[s:e], p_deltas[s:e]) AS x(account, delta) GROUP BY x.account) d
        WHERE a.id = d.account AND a.id = ANY (done);
      DELETE FROM transfers WHERE id = p_ids[i];
      results := results || ('insufficient-funds:' || failed);
      CONTINUE;
    END IF;
    INSERT INTO postings (transfer_id, account_id, amount_minor)
      SELECT p_ids[i], d.account, d.delta FROM unnest(p_accounts[s:e], p_deltas[s:e]) AS d(account, delta);
    results := results || 'applied'::TEXT;
  END LOOP;
  RETURN results;
END
$$;

-- Down Migration
-- 0004's version comes back by re-running 0004's body by hand (same signature).
