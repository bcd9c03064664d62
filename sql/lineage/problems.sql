SELECT problem_id AS row_id, 'problems' AS asset, config_id AS parent_id, unnest([scenario_call_id, statement_call_id]) AS llm_call_id,
       run_id, status || ' ' || coalesce(style, '') || ': ' || coalesce(title, error, '') AS summary,
       status || ' problems' AS label
FROM problems
