-- The usage log's sums for the runs behind the current data (made in SQLite by sql/usage_log/by_run.sql),
-- as the temporary table sql/llm_usage.sql joins: $rows is the JSON list of those rows, $structure their
-- column types. From JSON, not a registered DataFrame: that would load pyarrow into every `xcoder status`.
CREATE OR REPLACE TEMP TABLE llm_usage_by_run AS
SELECT unnest(from_json($rows::JSON, $structure), recursive := true);
