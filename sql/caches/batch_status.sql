UPDATE llm_batches SET status = ? WHERE batch_id = ?
