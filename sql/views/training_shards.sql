CREATE OR REPLACE VIEW training_shards AS
SELECT * FROM read_parquet('{data_dir}/training_shards.parquet');
