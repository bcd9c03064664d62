-- Run in SQLite on the gateway's cache file: the usage rows appended since the rollup's mark (?1 <
-- rowid <= ?2, the table's b-tree order: only the new rows are read), per run, asset and model, in the
-- rollup's columns (store/warehouse.py keeps the rollup; totals.sql and by_run.sql read it).
-- sent_to_model counts requests that went to the model (cache_hit false, at least one attempt), as the
-- run metadata's llm_calls_made does; not_sent: an identical request of the same batch failed first;
-- tokens and cost are those of the calls sent.
SELECT run_id, asset, model, count(*) AS requests,
       count(*) FILTER (WHERE NOT cache_hit AND attempts > 0) AS sent_to_model,
       count(*) FILTER (WHERE cache_hit) AS cache_hits,
       count(*) FILTER (WHERE NOT cache_hit AND attempts = 0) AS not_sent,
       count(*) FILTER (WHERE error IS NOT NULL) AS errors,
       coalesce(sum(prompt_tokens) FILTER (WHERE NOT cache_hit AND attempts > 0), 0) AS prompt_tokens,
       coalesce(sum(completion_tokens) FILTER (WHERE NOT cache_hit AND attempts > 0), 0) AS completion_tokens,
       coalesce(sum(cost_usd) FILTER (WHERE NOT cache_hit AND attempts > 0), 0.0) AS cost_usd
FROM usage
WHERE rowid > ?1 AND rowid <= ?2
GROUP BY run_id, asset, model;
