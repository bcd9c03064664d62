CREATE OR REPLACE VIEW training_mixtures AS
SELECT * FROM read_parquet('{data_dir}/training_mixtures.parquet');
