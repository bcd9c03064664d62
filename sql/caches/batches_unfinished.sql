SELECT batch_id, provider_batch_id, run_id, asset, role, model, status, submitted_at
FROM llm_batches WHERE finished_at IS NULL ORDER BY submitted_at
