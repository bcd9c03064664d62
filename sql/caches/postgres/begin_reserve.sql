-- A budget reservation: one reserver at a time on any host (SHARE ROW EXCLUSIVE conflicts with itself and
-- with writers, not with readers), so the sums read and the rows written are one step, as SQLite's
-- BEGIN IMMEDIATE makes them.
BEGIN;
LOCK TABLE budget_reservations IN SHARE ROW EXCLUSIVE MODE
