-- A sample's parent is the problem it answers; its LLM call is the request that wrote it.
SELECT score_id AS row_id, 'trained_model_scores' AS asset, lcb_problem_id AS parent_id, llm_call_id, run_id,
       model || ' sample ' || sample || ': ' || CASE WHEN passed THEN 'passed' ELSE 'failed' END
       || ' (' || generation_status || coalesce(', ' || verdict, '') || coalesce(': ' || reason, '') || ')' AS summary,
       CASE WHEN passed THEN 'passing samples' ELSE 'failing samples' END AS label
FROM trained_model_scores
