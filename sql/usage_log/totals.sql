-- Run in SQLite on the usage rollup (per run, asset and model: sql/usage_log/rollup.sql), so no usage
-- row is read again: LLM usage of every run so far, as the run metadata counts it (see rollup.sql).
SELECT coalesce(sum(requests), 0) AS requests,
       coalesce(sum(sent_to_model), 0) AS sent_to_model,
       coalesce(sum(cache_hits), 0) AS cache_hits,
       coalesce(sum(not_sent), 0) AS not_sent,
       coalesce(sum(errors), 0) AS errors,
       count(DISTINCT run_id) AS runs,
       coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
       coalesce(sum(completion_tokens), 0) AS completion_tokens,
       round(coalesce(sum(cost_usd), 0), 6) AS cost_usd
FROM rollup;
