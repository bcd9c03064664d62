-- Spending per run, asset, role and model, largest first (llm/spending.py): the requests sent to a model
-- (cache hits cost nothing; errors are counted, a failed request may still be billed).
SELECT run_id, asset, role, model, count(*), count(error), coalesce(sum(prompt_tokens), 0),
       coalesce(sum(completion_tokens), 0), coalesce(sum(cost_usd), 0)
FROM usage WHERE cache_hit = 0
GROUP BY run_id, asset, role, model ORDER BY 9 DESC
