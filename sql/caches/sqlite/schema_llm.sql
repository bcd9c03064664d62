-- The LLM cache file (llm/cache.py): responses, usage log, budget reservations, provider batches, claims.
-- Tables and indexes are only ever added, with IF NOT EXISTS, so older files keep working.
CREATE TABLE IF NOT EXISTS responses (
    cache_key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    template TEXT,
    request_json TEXT NOT NULL,
    response_json TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS usage (
    ts REAL NOT NULL,
    run_id TEXT,
    asset TEXT,
    role TEXT,
    model TEXT,
    cache_key TEXT,
    cache_hit INTEGER NOT NULL,
    error TEXT,
    attempts INTEGER,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    cost_usd REAL
);
-- Money set aside for requests in flight, per budget scope (run:<id>, day:<date>, batch:<key>): a Dagster
-- run's assets run in several processes, so a run's budget is shared through this table.
CREATE TABLE IF NOT EXISTS budget_reservations (
    reservation_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    reserved_usd REAL NOT NULL,
    spent_usd REAL,
    settled INTEGER NOT NULL DEFAULT 0,
    ts REAL NOT NULL,
    PRIMARY KEY (reservation_id, scope)
);
CREATE INDEX IF NOT EXISTS budget_reservations_scope ON budget_reservations (scope);
-- Provider batches (batch API): submitted, then collected; a pending one is resumed, never resubmitted.
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
    submitted_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS usage_run_asset ON usage (run_id, asset);
-- Work a process is doing now (store/sqlstore.py): a request being sent, so no other process sends it.
CREATE TABLE IF NOT EXISTS claims (
    space TEXT NOT NULL,
    claim_key TEXT NOT NULL,
    owner TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (space, claim_key)
);
CREATE INDEX IF NOT EXISTS claims_owner ON claims (owner);
