SELECT cache_key FROM responses WHERE cache_key IN ({marks})
