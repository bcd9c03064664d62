-- The sandbox run cache file (sandbox/runs.py): one row per finished run, and the runs being run now.
CREATE TABLE IF NOT EXISTS runs (key TEXT PRIMARY KEY, result TEXT NOT NULL, at REAL);
CREATE TABLE IF NOT EXISTS claims (
    space TEXT NOT NULL,
    claim_key TEXT NOT NULL,
    owner TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (space, claim_key)
);
CREATE INDEX IF NOT EXISTS claims_owner ON claims (owner);
