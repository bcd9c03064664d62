-- A submitted batch's record (its id is new each time: a replay after a dropped connection adds nothing).
INSERT INTO llm_batches (batch_id, provider_batch_id, input_file_id, run_id, asset, role, model, cache_keys_json,
                         status, reason, submitted_at, finished_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (batch_id) DO NOTHING
