DELETE FROM claims WHERE space = ? AND owner = ? AND claim_key IN ({marks})
