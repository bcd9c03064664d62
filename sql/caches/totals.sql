-- The cache's own totals (ResponseCache.totals): calls sent, hits, errors, tokens and cost of the calls sent.
SELECT count(*) FILTER (WHERE cache_hit = 0 AND error IS NULL),
       count(*) FILTER (WHERE cache_hit = 1),
       count(*) FILTER (WHERE error IS NOT NULL),
       coalesce(sum(prompt_tokens) FILTER (WHERE cache_hit = 0), 0),
       coalesce(sum(completion_tokens) FILTER (WHERE cache_hit = 0), 0),
       coalesce(sum(cost_usd) FILTER (WHERE cache_hit = 0), 0),
       (SELECT count(*) FROM responses)
FROM usage
