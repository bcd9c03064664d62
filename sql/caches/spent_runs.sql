-- spent.sql for the given runs only.
SELECT run_id, asset, role, model, count(*), count(error), coalesce(sum(prompt_tokens), 0),
       coalesce(sum(completion_tokens), 0), coalesce(sum(cost_usd), 0)
FROM usage WHERE cache_hit = 0 AND run_id IN ({marks})
GROUP BY run_id, asset, role, model ORDER BY 9 DESC
