CREATE OR REPLACE VIEW verified_solutions AS
SELECT * FROM read_parquet('{data_dir}/verified_solutions.parquet');

