-- LLM usage per asset and model, as recorded with each asset's data.
SELECT asset, model,
       count(*) AS calls,
       count(*) FILTER (WHERE cache_hit) AS cache_hits,
       count(*) FILTER (WHERE error IS NOT NULL) AS errors,
       sum(prompt_tokens) AS prompt_tokens,
       sum(completion_tokens) AS completion_tokens,
       round(sum(cost_usd), 6) AS cost_usd
FROM llm_calls GROUP BY asset, model ORDER BY asset, model;
