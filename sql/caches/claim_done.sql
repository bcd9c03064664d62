-- A claim ends with the answer it was for (in the transaction that stores the answer).
DELETE FROM claims WHERE space = ? AND claim_key = ? AND owner = ?
