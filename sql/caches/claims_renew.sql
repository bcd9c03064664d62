-- The heartbeat: claims of one cache live another lease (parameters: seconds, space, owner, then the keys).
UPDATE claims SET expires_at = {now} + ? WHERE space = ? AND owner = ? AND claim_key IN ({marks})
