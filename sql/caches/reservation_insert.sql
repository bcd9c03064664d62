INSERT INTO budget_reservations (reservation_id, scope, reserved_usd, spent_usd, settled, ts)
VALUES (?, ?, ?, NULL, 0, ?)
ON CONFLICT (reservation_id, scope) DO UPDATE SET
    reserved_usd = excluded.reserved_usd, spent_usd = NULL, settled = 0, ts = excluded.ts
