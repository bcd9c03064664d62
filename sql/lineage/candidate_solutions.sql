SELECT candidate_id AS row_id, 'candidate_solutions' AS asset, problem_id AS parent_id, llm_call_id,
       run_id, status || ' candidate #' || sample_index || coalesce(': ' || reason, '') AS summary,
       status || ' candidates' AS label
FROM candidate_solutions
