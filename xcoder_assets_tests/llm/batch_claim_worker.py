"""A process that sends the same requests through a role that uses the provider's batch API, racing another
such process on one cache (spawned by test_batch_claims.py; a barrier starts them together)."""

from __future__ import annotations

import os
import time
from typing import Any


def batch_writer(location: str, server_url: str, tag: str, n: int, submit_only: bool, start: Any, out: Any) -> None:
    """`complete` (submit, wait, collect) or, with `submit_only`, `submit_batches` (submit and return)."""
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    from xcoder_assets.llm.cache import ResponseCache
    from xcoder_assets.llm.gateway import GatewayConfig, LLMGateway, LLMRequest
    from xcoder_assets.llm.settings import GenerationParams, RoleSettings

    settings = RoleSettings(
        "extract",
        "openai/fake-model",
        GenerationParams(0.7, 0.95, 64),
        api_base=server_url,
        api_key="sk-test",
        batch=True,
    )
    cache = ResponseCache(location)
    config = GatewayConfig(max_retries=1, backoff_base_s=0.01, batch_poll_s=0.05, batch_wait_s=120)
    gateway = LLMGateway({"extract": settings}, cache, config, run_id=f"writer-{os.getpid()}", asset="batch_race")
    requests = [
        LLMRequest.of("extract", [{"role": "user", "content": f"{tag} batch prompt {i}"}], "t@v1") for i in range(n)
    ]
    start.wait(120)
    began = time.time()
    try:
        if submit_only:
            report = {"candidates": gateway.submit_batches(requests)}
        else:
            results = gateway.complete(requests)
            report = {
                "ok": sum(r.ok for r in results),
                "hits": sum(r.cache_hit for r in results),
                "sent": sum(1 for r in results if not r.cache_hit and r.attempts > 0),
                "contents": [r.content for r in results],
            }
    finally:
        cache.close()
    out.put({"pid": os.getpid(), "began": began, "ended": time.time(), **report})
