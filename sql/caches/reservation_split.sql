-- One scope's spent (settled) and still reserved (open) amounts.
SELECT coalesce(sum(spent_usd) FILTER (WHERE settled = 1), 0),
       coalesce(sum(reserved_usd) FILTER (WHERE settled = 0), 0)
FROM budget_reservations WHERE scope = ?
