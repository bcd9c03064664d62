-- What a scope has committed: settled spending plus open reservations. A reservation left open by a
-- process that died counts in full: the request may have been answered and billed, so the budget never
-- under-counts.
SELECT coalesce(sum(CASE WHEN settled = 1 THEN spent_usd ELSE reserved_usd END), 0)
FROM budget_reservations WHERE scope = ?
