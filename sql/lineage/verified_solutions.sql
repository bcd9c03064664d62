SELECT verified_id AS row_id, 'verified_solutions' AS asset,
       unnest(list_filter(list_concat([problem_id, candidate_id], test_ids), lambda x: x IS NOT NULL)) AS parent_id,
       NULL::VARCHAR AS llm_call_id, run_id,
       status || coalesce(' (' || reason || ')', '') || ': ' || tests_verified || '/' || tests_total || ' tests verified, mean agreement '
       || round(mean_agreement, 2) || CASE WHEN is_golden THEN ', golden' ELSE '' END AS summary
FROM verified_solutions
