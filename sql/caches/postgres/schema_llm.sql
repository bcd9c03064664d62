-- The LLM cache's tables in Postgres (llm/cache.py): the SQLite file's tables (sql/caches/sqlite/schema_llm.sql)
-- with Postgres' types. One creator at a time (an advisory lock), so processes starting together do not
-- race on CREATE ... IF NOT EXISTS.
BEGIN;
SELECT pg_advisory_xact_lock(7274010);
CREATE TABLE IF NOT EXISTS responses (
    cache_key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    template TEXT,
    request_json TEXT NOT NULL,
    response_json TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS usage (
    ts DOUBLE PRECISION NOT NULL,
    run_id TEXT,
    asset TEXT,
    role TEXT,
    model TEXT,
    cache_key TEXT,
    cache_hit INTEGER NOT NULL,
    error TEXT,
    attempts INTEGER,
    prompt_tokens BIGINT,
    completion_tokens BIGINT,
    cost_usd DOUBLE PRECISION
);
CREATE TABLE IF NOT EXISTS budget_reservations (
    reservation_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    reserved_usd DOUBLE PRECISION NOT NULL,
    spent_usd DOUBLE PRECISION,
    settled INTEGER NOT NULL DEFAULT 0,
    ts DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (reservation_id, scope)
);
CREATE INDEX IF NOT EXISTS budget_reservations_scope ON budget_reservations (scope);
CREATE TABLE IF NOT EXISTS llm_batches (
    batch_id TEXT PRIMARY KEY,
    provider_batch_id TEXT NOT NULL,
    input_file_id TEXT NOT NULL,
    run_id TEXT,
    asset TEXT,
    role TEXT NOT NULL,
    model TEXT NOT NULL,
    cache_keys_json TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    submitted_at DOUBLE PRECISION NOT NULL,
    finished_at DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS usage_run_asset ON usage (run_id, asset);
CREATE TABLE IF NOT EXISTS claims (
    space TEXT NOT NULL,
    claim_key TEXT NOT NULL,
    owner TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (space, claim_key)
);
CREATE INDEX IF NOT EXISTS claims_owner ON claims (owner);
COMMIT;
