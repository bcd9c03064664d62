-- Every LLM call of every asset: one file per asset under llm_calls/ (batch NULL) and, for the
-- batched assets, under batches/batch=<key>/llm_calls/ (batch = its key). The warehouse fills in
-- the placeholder below with the SELECT of each of those that has files (store/warehouse.py).
CREATE OR REPLACE VIEW llm_calls AS
{llm_calls_sources};
