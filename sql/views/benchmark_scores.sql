CREATE OR REPLACE VIEW benchmark_scores AS
SELECT * FROM read_parquet('{data_dir}/benchmark_scores.parquet');
