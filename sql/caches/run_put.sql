INSERT INTO runs (key, result, at) VALUES (?, ?, ?)
ON CONFLICT (key) DO UPDATE SET result = excluded.result, at = excluded.at
