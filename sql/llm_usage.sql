-- LLM usage behind the current data, per asset and model: requests, how many went to the model in
-- the run that wrote the data (the rest came from the cache), errors, tokens and cost.
SELECT asset, model,
       count(*) AS requests,
       count(*) FILTER (WHERE NOT cache_hit AND attempts > 0) AS calls_made,
       count(*) FILTER (WHERE cache_hit) AS cache_hits,
       count(*) FILTER (WHERE error IS NOT NULL) AS errors,
       count(*) FILTER (WHERE truncated) AS truncated,
       sum(prompt_tokens) AS prompt_tokens,
       sum(completion_tokens) AS completion_tokens,
       round(sum(cost_usd), 6) AS cost_usd
FROM llm_calls GROUP BY asset, model ORDER BY asset, model;
