SELECT test_id AS row_id, 'test_inputs' AS asset, problem_id AS parent_id, generator_call_id AS llm_call_id,
       run_id, status || ' ' || kind || ' input #' || case_index || ' (' || input_bytes || ' bytes)' || coalesce(': ' || reason, '') AS summary
FROM test_inputs
