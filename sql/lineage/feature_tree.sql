SELECT node_id AS row_id, 'feature_tree' AS asset, unnest(source_feature_ids) AS parent_id, NULL::VARCHAR AS llm_call_id,
       run_id, category || ' / ' || array_to_string(list_append(path, feature), ' / ') AS summary,
       'leaves of the merged tree' AS label
FROM feature_tree
