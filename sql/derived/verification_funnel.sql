-- The verification funnel: problems -> with tests -> with a golden solution -> verified solutions.
CREATE OR REPLACE VIEW verification_funnel AS
SELECT 'problems' AS stage, (SELECT count(*) FROM problems WHERE status = 'ok') AS count
UNION ALL SELECT 'with tests', (SELECT count(*) FROM test_inputs__generators WHERE status = 'ok')
UNION ALL SELECT 'with a golden solution', (SELECT count(DISTINCT problem_id) FROM verified_solutions WHERE status = 'verified')
UNION ALL SELECT 'verified solutions', (SELECT count(*) FROM verified_solutions WHERE status = 'verified');
