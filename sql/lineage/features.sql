SELECT feature_id AS row_id, 'features' AS asset, seed_id AS parent_id, llm_call_id,
       run_id, status || ': ' || leaf_count || ' leaves' || coalesce(' (' || error || ')', '') AS summary,
       status || ' feature trees' AS label
FROM features
