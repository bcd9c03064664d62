-- Claim keys (each row of claim_row.sql: space, key, owner, lease in seconds): a new claim, or one whose
-- lease ran out (its process died); a live claim of another process stays (on Postgres a concurrent
-- claimant waits for the first one's transaction, then finds its claim live). Keys come sorted and
-- distinct, so claimants never wait on each other in a cycle and no row is touched twice.
INSERT INTO claims (space, claim_key, owner, expires_at) VALUES {rows}
ON CONFLICT (space, claim_key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
WHERE claims.expires_at < {now}
