UPDATE llm_batches SET status = ?, reason = ?, finished_at = ? WHERE batch_id = ?
