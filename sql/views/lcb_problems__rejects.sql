CREATE OR REPLACE VIEW lcb_problems__rejects AS
SELECT * FROM read_parquet('{data_dir}/lcb_problems__rejects.parquet');
