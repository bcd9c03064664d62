-- agreement of a test = its top votes / the candidates' runs on it that ended normally;
-- mean_agreement is the mean of that over the problem's tests.
SELECT verified_id AS row_id, 'verified_solutions' AS asset,
       unnest(list_filter(list_concat([problem_id, candidate_id], test_ids), lambda x: x IS NOT NULL)) AS parent_id,
       NULL::VARCHAR AS llm_call_id, run_id,
       status || coalesce(' (' || reason || ')', '') || ': ' || tests_verified || '/' || tests_total || ' tests verified, mean agreement '
       || round(mean_agreement, 2) || CASE WHEN is_golden THEN ', golden' ELSE '' END AS summary,
       status || ' solutions' AS label
FROM verified_solutions
