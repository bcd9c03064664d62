-- A test input's source: the statement's examples are copied from the problem (no LLM call behind
-- them); every other input was printed by the generator program the test_write call wrote.
SELECT test_id AS row_id, 'test_inputs' AS asset, problem_id AS parent_id,
       CASE WHEN kind = 'example' THEN NULL ELSE generator_call_id END AS llm_call_id,
       run_id,
       status || ' ' || CASE WHEN kind = 'example' THEN 'example #' || case_index || ' from the statement'
                             ELSE kind || ' input #' || case_index || ' from the test generator' END
       || ' (' || input_bytes || ' bytes)' || coalesce(': ' || reason, '') AS summary,
       CASE WHEN kind = 'example' THEN 'examples from the statement'
            ELSE kind || ' inputs from the test generator' END AS label
FROM test_inputs
