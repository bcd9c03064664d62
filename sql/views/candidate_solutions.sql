CREATE OR REPLACE VIEW candidate_solutions AS
-- Every generation batch's file (batches/batch=<key>/), with the batch's key as column `batch`.
SELECT * FROM read_parquet('{data_dir}/batches/batch=*/candidate_solutions.parquet', hive_partitioning = true, hive_types = {'batch': VARCHAR}, union_by_name = true);
