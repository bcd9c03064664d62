-- Per template and model: answers sent to a model, mean prompt and completion tokens (for estimates;
-- cache hits repeat them, errors have no tokens).
SELECT r.template, u.model, count(*), avg(u.prompt_tokens), avg(u.completion_tokens)
FROM usage u JOIN responses r ON r.cache_key = u.cache_key
WHERE u.cache_hit = 0 AND u.error IS NULL AND u.prompt_tokens > 0
GROUP BY r.template, u.model
