-- The answers behind the current data per asset, batch and model (sql/llm_usage.sql joins them to the
-- writing runs' requests): made once, as a temporary table, so llm_calls is scanned once.
CREATE OR REPLACE TEMP TABLE llm_usage_behind AS
SELECT asset, batch, model, any_value(run_id) AS run_id, count(*) AS behind_data,
       count(*) FILTER (WHERE error IS NOT NULL) AS errors,
       count(*) FILTER (WHERE truncated) AS truncated
FROM llm_calls GROUP BY asset, batch, model;
