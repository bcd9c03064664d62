-- The earlier attempts of an LLM call that was asked again (the problems stage re-asks an answer that fails
-- validation: the same messages with the next attempt's seed, recipe/composition.py attempt_seed): the rows of
-- the same llm_calls file with the same template and messages and another call id, in attempt order (the first
-- attempt has no seed, attempt k has seed k). The caller (store/warehouse.py earlier_attempts) fills in the file
-- in braces and binds: the batch, the template, the call id, its prompt tokens and its request_json. The same
-- messages make the same prompt tokens: that small column is compared first, so only the few rows that pass
-- have their request read and parsed.
SELECT *, $batch::VARCHAR AS batch
FROM read_parquet('{path}', hive_partitioning = false)
WHERE template = $template
  AND prompt_tokens IS NOT DISTINCT FROM $prompt_tokens::BIGINT
  AND call_id <> $call_id
  AND json_extract(request_json, '$.messages') = json_extract($request_json::VARCHAR, '$.messages')
QUALIFY row_number() OVER (PARTITION BY call_id ORDER BY call_id) = 1
ORDER BY coalesce(try_cast(json_extract_string(request_json, '$.params.seed') AS INTEGER), 1), call_id
