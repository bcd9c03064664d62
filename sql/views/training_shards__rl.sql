CREATE OR REPLACE VIEW training_shards__rl AS
SELECT * FROM read_parquet('{data_dir}/training_shards__rl.parquet');
