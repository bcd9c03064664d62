-- Each cache connection's settings (store/sqlstore.py): commits do not wait for the WAL flush.
SET synchronous_commit = off
