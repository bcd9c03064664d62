CREATE OR REPLACE VIEW problems AS
-- Every generation batch's file (batches/batch=<key>/), with the batch's key as column `batch`.
SELECT * FROM read_parquet('{data_dir}/batches/batch=*/problems.parquet', hive_partitioning = true, hive_types = {'batch': VARCHAR}, union_by_name = true);

-- Problems per style and status (the composition funnel).
CREATE OR REPLACE VIEW problems_by_style AS
SELECT style, status, count(*) AS problems FROM problems GROUP BY ALL ORDER BY style, status;
