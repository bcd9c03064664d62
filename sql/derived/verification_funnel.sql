-- The verification funnel: problems -> with tests -> with a golden solution -> verified solutions.
-- verified_solutions is scanned once for its two figures (over hundreds of batches each scan binds every file).
CREATE OR REPLACE VIEW verification_funnel AS
WITH verified AS MATERIALIZED (
    SELECT count(DISTINCT problem_id) AS golden, count(*) AS solutions FROM verified_solutions WHERE status = 'verified'
)
SELECT 'problems' AS stage, (SELECT count(*) FROM problems WHERE status = 'ok') AS count
UNION ALL SELECT 'with tests', (SELECT count(*) FROM test_inputs__generators WHERE status = 'ok')
UNION ALL SELECT 'with a golden solution', (SELECT golden FROM verified)
UNION ALL SELECT 'verified solutions', (SELECT solutions FROM verified);
