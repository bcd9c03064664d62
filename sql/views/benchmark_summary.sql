CREATE OR REPLACE VIEW benchmark_summary AS
SELECT * FROM read_parquet('{data_dir}/benchmark_summary.parquet');
