-- The usage log per run, asset and model, in the rollup's columns (sql/usage_log/rollup.sql), summed in
-- Postgres over the whole log: its rows are appended by many hosts at once, so no row order marks what a
-- rollup has already seen (as SQLite's rowid does for one file); the client receives one row per group.
SELECT run_id, asset, model, count(*) AS requests,
       count(*) FILTER (WHERE cache_hit = 0 AND attempts > 0) AS sent_to_model,
       count(*) FILTER (WHERE cache_hit = 1) AS cache_hits,
       count(*) FILTER (WHERE cache_hit = 0 AND attempts = 0) AS not_sent,
       count(*) FILTER (WHERE error IS NOT NULL) AS errors,
       coalesce(sum(prompt_tokens) FILTER (WHERE cache_hit = 0 AND attempts > 0), 0) AS prompt_tokens,
       coalesce(sum(completion_tokens) FILTER (WHERE cache_hit = 0 AND attempts > 0), 0) AS completion_tokens,
       coalesce(sum(cost_usd) FILTER (WHERE cache_hit = 0 AND attempts > 0), 0.0) AS cost_usd
FROM usage
GROUP BY run_id, asset, model
