CREATE OR REPLACE VIEW test_inputs__generators AS
SELECT * FROM read_parquet('{data_dir}/test_inputs__generators.parquet');
