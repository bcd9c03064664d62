CREATE OR REPLACE VIEW evolved_pool AS
SELECT * FROM read_parquet('{data_dir}/evolved_pool.parquet');
