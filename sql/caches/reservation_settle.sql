UPDATE budget_reservations SET spent_usd = ?, settled = 1 WHERE reservation_id = ?
