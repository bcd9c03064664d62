-- A LiveCodeBench problem has no parent in this pipeline; one of the project's own held-out problems
-- (source 'xcoder-verified ...', question_id = its problems row id) descends from that problem.
SELECT lcb_problem_id AS row_id, 'lcb_problems' AS asset,
       CASE WHEN source LIKE 'xcoder-verified%' THEN question_id END AS parent_id,
       NULL::VARCHAR AS llm_call_id, run_id,
       platform || ' ' || question_id || ' (' || difficulty || ', ' || mode || ', ' || public_tests || ' public + '
       || private_tests || ' private tests, ' || coalesce(contest_date::VARCHAR, 'undated') || ', ' || source || ')' AS summary,
       source AS label
FROM lcb_problems
