SELECT pool_id AS row_id, 'evolved_pool' AS asset, unnest(parent_ids) AS parent_id, llm_call_id,
       run_id, 'round ' || origin_round || ': ' || category || ' / ' || array_to_string(list_append(path, feature), ' / ') AS summary,
       CASE WHEN origin_round = 0 THEN 'from the merged tree (round 0)' ELSE 'added by evolution' END AS label
FROM evolved_pool
