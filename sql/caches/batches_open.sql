-- Submitted batches of one role and model not collected yet, oldest first.
SELECT batch_id, provider_batch_id, input_file_id, run_id, asset, role, model, cache_keys_json, status, reason,
       submitted_at, finished_at
FROM llm_batches WHERE role = ? AND model = ? AND finished_at IS NULL ORDER BY submitted_at
