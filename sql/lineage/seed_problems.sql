SELECT seed_id AS row_id, 'seed_problems' AS asset, NULL::VARCHAR AS parent_id, NULL::VARCHAR AS llm_call_id,
       run_id, left(question, 120) AS summary, 'seeds' AS label
FROM seed_problems
