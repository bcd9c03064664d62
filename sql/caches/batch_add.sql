INSERT INTO llm_batches (batch_id, provider_batch_id, input_file_id, run_id, asset, role, model, cache_keys_json,
                         status, reason, submitted_at, finished_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
