SELECT key, result FROM runs WHERE key IN ({marks})
