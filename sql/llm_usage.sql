-- LLM requests per asset, batch and model, for the run that wrote the asset's current data (batch:
-- the generation batch of a batched asset, NULL for the others; each batch has its own run).
--   behind_data:       answers the current rows use (llm_calls/<asset>.parquet)
--   run_requests:      requests that run put to the gateway (run metadata llm_requests)
--   sent_to_model:     of those, sent to the model (llm_calls_made)
--   cache_hits:        of those, answered from the response cache (llm_cache_hits)
--   not_sent:          of those, neither: an identical request of the same batch failed first
--                      (llm_requests_not_sent); run_requests = sent_to_model + cache_hits + not_sent
--   from_earlier_runs: answers behind the data that run did not request: rounds an earlier run had
--                      checkpointed (evolved_pool's llm_calls_from_checkpoint), replayed with their calls
--   errors, truncated: answers behind the data that failed, or were cut off at max_tokens
--   tokens, cost:      spent by the calls that run sent to the model (cache hits cost nothing)
WITH behind AS (  -- sql/llm_usage_behind.sql
    SELECT * FROM llm_usage_behind
),
made AS (  -- aggregated in SQLite for these runs only (sql/usage_log/by_run.sql)
    SELECT * FROM llm_usage_by_run
)
SELECT b.asset, b.batch, b.model, b.run_id, b.behind_data,
       coalesce(m.run_requests, 0) AS run_requests,
       coalesce(m.sent_to_model, 0) AS sent_to_model,
       coalesce(m.cache_hits, 0) AS cache_hits,
       coalesce(m.not_sent, 0) AS not_sent,
       b.behind_data - coalesce(m.run_requests, 0) AS from_earlier_runs,
       b.errors, b.truncated,
       coalesce(m.prompt_tokens, 0) AS prompt_tokens,
       coalesce(m.completion_tokens, 0) AS completion_tokens,
       round(coalesce(m.cost_usd, 0), 6) AS cost_usd
FROM behind AS b
LEFT JOIN made AS m ON m.asset = b.asset AND m.model = b.model AND m.run_id = b.run_id
ORDER BY b.asset, b.batch, b.model;
