SELECT config_id AS row_id, 'feature_configs' AS asset, unnest(feature_ids) AS parent_id, NULL::VARCHAR AS llm_call_id,
       run_id, 'config ' || config_index || ', shape ' || array_to_string(shape, 'x') || ', ' || leaf_count || ' leaves' AS summary,
       'configurations' AS label
FROM feature_configs
