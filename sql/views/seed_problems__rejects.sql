-- Seed records that were not loaded, with file, line and reason.
CREATE OR REPLACE VIEW seed_problems__rejects AS
SELECT * FROM read_parquet('{data_dir}/seed_problems__rejects.parquet');
