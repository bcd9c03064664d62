CREATE OR REPLACE VIEW feature_configs AS
-- Every generation batch's file (batches/batch=<key>/), with the batch's key as column `batch`.
SELECT * FROM read_parquet('{data_dir}/batches/batch=*/feature_configs.parquet', hive_partitioning = true, hive_types = {'batch': VARCHAR}, union_by_name = true);
