-- LLM usage of every run so far, from the gateway's usage log (one row per request it answered).
-- sent_to_model counts requests that went to the model (cache_hit false, at least one attempt),
-- as the run metadata's llm_calls_made does; not_sent: an identical request of the same batch failed
-- first; tokens and cost are those of the calls sent.
SELECT count(*) AS requests,
       count(*) FILTER (WHERE NOT cache_hit AND attempts > 0) AS sent_to_model,
       count(*) FILTER (WHERE cache_hit) AS cache_hits,
       count(*) FILTER (WHERE NOT cache_hit AND attempts = 0) AS not_sent,
       count(*) FILTER (WHERE error IS NOT NULL) AS errors,
       count(DISTINCT run_id) AS runs,
       coalesce(sum(prompt_tokens) FILTER (WHERE NOT cache_hit AND attempts > 0), 0) AS prompt_tokens,
       coalesce(sum(completion_tokens) FILTER (WHERE NOT cache_hit AND attempts > 0), 0) AS completion_tokens,
       round(coalesce(sum(cost_usd) FILTER (WHERE NOT cache_hit AND attempts > 0), 0), 6) AS cost_usd
FROM llm_usage_log;
