-- Seed problems: one row per loaded TACO-style record.
CREATE OR REPLACE VIEW seed_problems AS
SELECT * FROM read_parquet('{data_dir}/seed_problems.parquet');
