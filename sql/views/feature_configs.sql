CREATE OR REPLACE VIEW feature_configs AS
SELECT * FROM read_parquet('{data_dir}/feature_configs.parquet');
