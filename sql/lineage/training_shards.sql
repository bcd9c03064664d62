-- An SFT example's parent is the verified solution it was made from; an RL problem's parents are its
-- problem and the verified solutions of its SFT examples (training_shards__rl).
SELECT example_id AS row_id, 'training_shards' AS asset, verified_id AS parent_id,
       NULL::VARCHAR AS llm_call_id, run_id,
       status || coalesce(' (' || reason || ')', '') || ', ' || split || ', ' || coalesce(tokens::VARCHAR, '-')
       || ' tokens, shards ' || shards_version AS summary,
       status || ' SFT examples' AS label
FROM training_shards
UNION ALL
SELECT example_id AS row_id, 'training_shards' AS asset,
       unnest(list_concat([problem_id], verified_ids)) AS parent_id,
       NULL::VARCHAR AS llm_call_id, run_id,
       'RL problem, ' || status || ', ' || split || ', ' || tests || ' verified tests, shards ' || shards_version AS summary,
       status || ' RL problems' AS label
FROM training_shards__rl
