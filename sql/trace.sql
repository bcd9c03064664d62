-- One step of `xcoder trace`: the lineage rows of the given ids in one asset, each row once with its
-- parents, label and LLM calls. The caller (store/warehouse.py trace_walk) walks from the row to its
-- seeds a step at a time and fills in the placeholders in braces: the sources (the asset's table or
-- tables, as CTEs over only the files and ids concerned, so no step reads more than it needs), the
-- asset's lineage SELECT (sql/lineage/<asset>.sql) and the ids (quoted literals: a constant list is
-- pushed into the Parquet scan as a filter).
WITH {sources}
SELECT l.asset, l.row_id, any_value(l.summary) AS summary, any_value(l.label) AS label,
       list(DISTINCT l.parent_id ORDER BY l.parent_id) FILTER (WHERE l.parent_id IS NOT NULL) AS parent_ids,
       list(DISTINCT l.llm_call_id ORDER BY l.llm_call_id) FILTER (WHERE l.llm_call_id IS NOT NULL) AS llm_call_ids,
       any_value(l.run_id) AS run_id
FROM (
{lineage}
) AS l
WHERE l.row_id IN ({ids})
GROUP BY l.asset, l.row_id
