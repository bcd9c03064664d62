-- Run in SQLite on the usage rollup (sql/usage_log/rollup.sql): the requests of the given runs only
-- (?1: a JSON list of run ids, the runs that wrote current data), per asset, model and run; the
-- columns of `made` in sql/llm_usage.sql, which joins them to the answers behind the data.
SELECT asset, model, run_id, sum(requests) AS run_requests, sum(sent_to_model) AS sent_to_model,
       sum(cache_hits) AS cache_hits, sum(not_sent) AS not_sent, sum(prompt_tokens) AS prompt_tokens,
       sum(completion_tokens) AS completion_tokens, sum(cost_usd) AS cost_usd
FROM rollup
WHERE run_id IN (SELECT value FROM json_each(?1))
GROUP BY asset, model, run_id;
