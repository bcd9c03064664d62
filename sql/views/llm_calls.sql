-- Every LLM call of every asset (one file per asset under llm_calls/).
CREATE OR REPLACE VIEW llm_calls AS
SELECT * FROM read_parquet('{data_dir}/llm_calls/*.parquet', union_by_name = true);
