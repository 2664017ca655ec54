-- Up Migration
-- apply_transfers, with a set-based fast path. A batch in which no
-- balance-checked account goes down (captures, releases, credits) cannot be
-- refused for funds, so it is written with a handful of set statements
-- instead of a loop per transfer: the hot path of a busy merchant. Batches
-- with debits (reserves) keep the per-transfer loop below.
CREATE OR REPLACE FUNCTION apply_transfers(
  p_ids TEXT[], p_kinds TEXT[], p_reserve_ids TEXT[], p_payment_ids TEXT[], p_currencies TEXT[], p_amounts BIGINT[],
  p_starts INT[], p_counts INT[], p_accounts TEXT[], p_deltas BIGINT[]
) RETURNS TEXT[] LANGUAGE plpgsql
-- The tables are this schema's, whatever the caller's search_path.
SET search_path FROM CURRENT
AS $$
DECLARE
  results TEXT[] := '{}';
  i INT;
  s INT;
  e INT;
  change RECORD;
  failed TEXT;
  done TEXT[];
  applied TEXT[];
BEGIN
  -- Lock every balance-checked account of the batch up front, in id order: two batches (or a
  -- batch and a single transfer, which locks its own accounts in id order too) never deadlock.
  PERFORM 1 FROM accounts WHERE id = ANY (p_accounts) AND balance_minor IS NOT NULL ORDER BY id FOR UPDATE;
  IF NOT EXISTS (
       SELECT 1 FROM unnest(p_accounts, p_deltas) AS d(account, delta)
       JOIN accounts a ON a.id = d.account AND a.balance_minor IS NOT NULL WHERE d.delta < 0)
     AND (SELECT count(DISTINCT x) FROM unnest(p_ids) AS x) = coalesce(array_length(p_ids, 1), 0)
  THEN
    IF EXISTS (
         SELECT 1 FROM generate_subscripts(p_ids, 1) AS t(i),
           LATERAL unnest(p_accounts[p_starts[t.i] : p_starts[t.i] + p_counts[t.i] - 1]) AS x(account)
           JOIN accounts a ON a.id = x.account WHERE a.currency <> p_currencies[t.i]) THEN
      RAISE EXCEPTION 'batch has a posting to an account in another currency';
    END IF;
    WITH candidates AS (
      SELECT t.i FROM generate_subscripts(p_ids, 1) AS t(i)
      WHERE p_reserve_ids[t.i] IS NULL OR p_kinds[t.i] NOT IN ('capture', 'void')
         OR NOT EXISTS (SELECT 1 FROM transfers s WHERE s.reserve_id = p_reserve_ids[t.i] AND s.kind IN ('capture', 'void') AND s.id <> p_ids[t.i])
    ), inserted AS (
      INSERT INTO transfers (id, kind, reserve_id, payment_id, currency, amount_minor)
      SELECT p_ids[c.i], p_kinds[c.i], p_reserve_ids[c.i], p_payment_ids[c.i], p_currencies[c.i], p_amounts[c.i] FROM candidates c
      ON CONFLICT (id) DO NOTHING
      RETURNING id
    )
    SELECT coalesce(array_agg(id), '{}') INTO applied FROM inserted;
    INSERT INTO postings (transfer_id, account_id, amount_minor)
      SELECT p_ids[t.i], x.account, x.delta
      FROM generate_subscripts(p_ids, 1) AS t(i),
        LATERAL unnest(p_accounts[p_starts[t.i] : p_starts[t.i] + p_counts[t.i] - 1], p_deltas[p_starts[t.i] : p_starts[t.i] + p_counts[t.i] - 1]) AS x(account, delta)
      WHERE p_ids[t.i] = ANY (applied);
    UPDATE accounts a SET balance_minor = a.balance_minor + d.delta
      FROM (SELECT x.account, sum(x.delta) AS delta
            FROM generate_subscripts(p_ids, 1) AS t(i),
              LATERAL unnest(p_accounts[p_starts[t.i] : p_starts[t.i] + p_counts[t.i] - 1], p_deltas[p_starts[t.i] : p_starts[t.i] + p_counts[t.i] - 1]) AS x(account, delta)
            WHERE p_ids[t.i] = ANY (applied) GROUP BY x.account) d
      WHERE a.id = d.account AND a.balance_minor IS NOT NULL;
    FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
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
  FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
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
    -- A posting to an account in another currency is a bug: fail the batch, the caller retries one by one and throws.
    IF EXISTS (SELECT 1 FROM unnest(p_accounts[s:e]) AS x(account) JOIN accounts a ON a.id = x.account WHERE a.currency <> p_currencies[i]) THEN
      RAISE EXCEPTION 'transfer %: account in another currency', p_ids[i];
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
-- 0003's per-transfer version stays in place when this is rolled back by re-running 0003's body by hand.
