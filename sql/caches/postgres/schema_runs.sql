-- The sandbox run cache in Postgres (sandbox/runs.py), beside the LLM cache's tables (claims is shared:
-- its space column keeps them apart). One creator at a time, as schema_llm.sql.
BEGIN;
SELECT pg_advisory_xact_lock(7274010);
CREATE TABLE IF NOT EXISTS runs (key TEXT PRIMARY KEY, result TEXT NOT NULL, at DOUBLE PRECISION);
CREATE TABLE IF NOT EXISTS claims (
    space TEXT NOT NULL,
    claim_key TEXT NOT NULL,
    owner TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (space, claim_key)
);
CREATE INDEX IF NOT EXISTS claims_owner ON claims (owner);
COMMIT;
