CREATE OR REPLACE VIEW trained_model_scores AS
SELECT * FROM read_parquet('{data_dir}/trained_model_scores.parquet');
