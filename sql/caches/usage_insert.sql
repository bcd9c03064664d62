INSERT INTO usage (ts, run_id, asset, role, model, cache_key, cache_hit, error, attempts, prompt_tokens,
                   completion_tokens, cost_usd)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
