"""Writer processes for the shared-cache tests (test_shared_caches.py), each a separate OS process (forked from
a preloaded server, processes.py): they share nothing but the cache database they are given (XCODER_CACHE_URL's
Postgres, or one SQLite file) and the fake server. They start together (a barrier), so they race."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from xcoder_assets_tests.processes import Workers

PARAMS = dict(temperature=0.7, top_p=0.95, max_tokens=64)


def race(target: Any, args_of: Any, writers: int) -> list[dict]:
    """Start `writers` spawned processes of `target(*args_of(w), start, out)` behind one barrier (so they race)
    and return each one's report (what it put on `out`); every process must exit 0."""
    context = Workers()
    start, out = context.Barrier(writers), context.Queue()
    workers = [context.process(target, (*args_of(w), start, out)) for w in range(writers)]
    for w in workers:
        w.start()
    try:
        reports = [out.get(timeout=300) for _ in workers]
    finally:
        for w in workers:
            w.join(60)
            if w.is_alive():
                w.kill()
    assert all(w.exitcode == 0 for w in workers), [w.exitcode for w in workers]
    return reports


def prompts(tag: str, n: int) -> list[str]:
    return [f"{tag} shared-cache prompt {i}" for i in range(n)]


def llm_writer(location: str, cache_url: str | None, server_url: str, tag: str, n: int, start: Any, out: Any) -> None:
    """Send the same `n` requests as every other writer, through the gateway and the cache at `location`
    (a data directory; the database is XCODER_CACHE_URL's when `cache_url` is given)."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    if cache_url:
        os.environ["XCODER_CACHE_URL"] = cache_url
    from xcoder_assets.llm.cache import ResponseCache
    from xcoder_assets.llm.gateway import GatewayConfig, LLMGateway, LLMRequest
    from xcoder_assets.llm.settings import GenerationParams, RoleSettings

    settings = RoleSettings(
        "extract", "openai/fake-model", GenerationParams(**PARAMS), api_base=server_url, api_key="sk-test"
    )
    cache = ResponseCache.at(Path(location))
    gateway = LLMGateway(
        {"extract": settings},
        cache,
        GatewayConfig(max_in_flight=8, max_retries=2, request_timeout_s=30),
        run_id=f"writer-{os.getpid()}",
        asset="cache_race",
    )
    requests = [LLMRequest.of("extract", [{"role": "user", "content": p}], "test@v1") for p in prompts(tag, n)]
    start.wait(60)
    began = time.time()
    results = gateway.complete(requests)
    ended = time.time()
    cache.close()
    out.put(
        {
            "pid": os.getpid(),
            "began": began,
            "ended": ended,
            "ok": sum(r.ok for r in results),
            "hits": sum(r.cache_hit for r in results),
            "sent": sum(1 for r in results if not r.cache_hit and r.attempts > 0),
            "contents": [r.content for r in results],
        }
    )


def run_writer(location: str, cache_url: str | None, programs: list[str], inputs: list[str], start: Any, out: Any):
    """Run the same programs on the same inputs as every other writer, through the run cache at `location`."""
    if cache_url:
        os.environ["XCODER_CACHE_URL"] = cache_url
    from xcoder_assets.sandbox.backends import Limits, make_backend
    from xcoder_assets.sandbox.runs import Program, RunCache, run_matrix

    backend = make_backend("bwrap")
    cache = RunCache.at(Path(location))
    start.wait(60)
    began = time.time()
    try:
        outcomes, stats = run_matrix(
            backend, [Program(code) for code in programs], [inputs] * len(programs), Limits(), cache, workers=2
        )
    finally:
        backend.close()
        cache.close()
    out.put(
        {
            "pid": os.getpid(),
            "executed": stats.executed,
            "cached": stats.cached,
            "runs": stats.runs,
            "began": began,
            "ended": time.time(),
            "stdout": [[o.stdout for o in row] for row in outcomes],
        }
    )


def claim_and_die(location: str, keys: list[str], ready: Any) -> None:
    """Claim keys in a run cache, say so, then wait to be killed (a process that dies mid-work)."""
    from xcoder_assets.sandbox.runs import RunCache

    cache = RunCache(location)
    claimed = cache.claim(keys)
    ready.put(sorted(claimed.mine))
    time.sleep(600)
