CREATE OR REPLACE VIEW problems AS
SELECT * FROM read_parquet('{data_dir}/problems.parquet');

-- Problems per style and status (the composition funnel).
CREATE OR REPLACE VIEW problems_by_style AS
SELECT style, status, count(*) AS problems FROM problems GROUP BY ALL ORDER BY style, status;
