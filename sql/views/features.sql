-- Feature trees per seed, including parse failures (status <> 'ok').
CREATE OR REPLACE VIEW features AS
SELECT * FROM read_parquet('{data_dir}/features.parquet');
