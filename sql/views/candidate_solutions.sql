CREATE OR REPLACE VIEW candidate_solutions AS
SELECT * FROM read_parquet('{data_dir}/candidate_solutions.parquet');
