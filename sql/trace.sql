-- The lineage of one row back to its seeds: the row and every ancestor, each with its parents and
-- the LLM calls that produced it ($row_id is bound by the caller).
WITH RECURSIVE chain(depth, row_id) AS (
    SELECT 0, $row_id
    UNION
    SELECT chain.depth + 1, lineage.parent_id
    FROM chain JOIN lineage ON lineage.row_id = chain.row_id
    WHERE lineage.parent_id IS NOT NULL AND chain.depth < 64
),
nodes AS (
    SELECT row_id, min(depth) AS depth FROM chain GROUP BY row_id
)
SELECT nodes.depth, l.asset, l.row_id, any_value(l.summary) AS summary, any_value(l.label) AS label,
       list(DISTINCT l.parent_id ORDER BY l.parent_id) FILTER (WHERE l.parent_id IS NOT NULL) AS parent_ids,
       list(DISTINCT l.llm_call_id ORDER BY l.llm_call_id) FILTER (WHERE l.llm_call_id IS NOT NULL) AS llm_call_ids,
       any_value(l.run_id) AS run_id
FROM nodes
JOIN lineage AS l ON l.row_id = nodes.row_id
GROUP BY nodes.depth, l.asset, l.row_id
ORDER BY nodes.depth, l.asset, l.row_id;
