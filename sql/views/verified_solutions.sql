CREATE OR REPLACE VIEW verified_solutions AS
-- Every generation batch's file (batches/batch=<key>/), with the batch's key as column `batch`.
SELECT * FROM read_parquet('{data_dir}/batches/batch=*/verified_solutions.parquet', hive_partitioning = true, hive_types = {'batch': VARCHAR}, union_by_name = true);

