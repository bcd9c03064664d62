CREATE OR REPLACE VIEW lcb_problems AS
SELECT * FROM read_parquet('{data_dir}/lcb_problems.parquet');
