SELECT cache_key, response_json FROM responses WHERE cache_key IN ({marks})
