SELECT count(*) FROM responses
