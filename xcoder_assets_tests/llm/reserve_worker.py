"""A process that reserves budget in a shared cache file (spawned by test_cost_http; imports little)."""

from xcoder_assets.llm.cache import ResponseCache


def reserve_many(path, scope, results, worker):
    cache = ResponseCache(path)
    granted = 0
    for i in range(40):
        ok, _ = cache.reserve(f"w{worker}-{i}", 1.0, {scope: 25.0})
        if ok:
            granted += 1
            cache.settle(f"w{worker}-{i}", 0.5 if i % 2 else 1.0)
    results.put(granted)
