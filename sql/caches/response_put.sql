-- An answer (the latest one wins, as INSERT OR REPLACE did).
INSERT INTO responses (cache_key, model, template, request_json, response_json, created_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (cache_key) DO UPDATE SET
    model = excluded.model, template = excluded.template, request_json = excluded.request_json,
    response_json = excluded.response_json, created_at = excluded.created_at
