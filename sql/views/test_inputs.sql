CREATE OR REPLACE VIEW test_inputs AS
SELECT * FROM read_parquet('{data_dir}/test_inputs.parquet');
