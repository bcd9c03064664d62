"""`xcoder bench llm`: the gateway against plain `litellm.acompletion` with a semaphore, same run.

Both sides send the same number of distinct prompts at the same concurrency to the same endpoint,
in alternating rounds so that neither gets a warmer connection pool or a quieter machine. The
gateway runs with everything on: a fresh response cache (every request is a miss and is written),
the usage log, retries and accounting.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import litellm

from xcoder_assets.llm.cache import ResponseCache
from xcoder_assets.llm.gateway import GatewayConfig, LLMGateway, LLMRequest
from xcoder_assets.llm.settings import GenerationParams, RoleSettings

BENCH_PARAMS = GenerationParams(temperature=0.0, top_p=1.0, max_tokens=64)


@dataclass
class BenchSide:
    name: str
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _messages(tag: str, index: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"benchmark {tag} request {index}: reply with one word"}]


async def _plain(api_base: str, model: str, api_key: str, n: int, concurrency: int, tag: str) -> tuple[int, float]:
    semaphore = asyncio.Semaphore(concurrency)
    errors = 0

    async def one(i: int) -> None:
        nonlocal errors
        async with semaphore:
            try:
                await litellm.acompletion(model=model, messages=_messages(tag, i), api_base=api_base, api_key=api_key,
                                          max_retries=0, **BENCH_PARAMS.as_dict())
            except Exception:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return errors, time.perf_counter() - started


async def _gateway(api_base: str, model: str, api_key: str, n: int, concurrency: int, tag: str, cache_dir: Path) -> tuple[int, float]:
    settings = RoleSettings("extract", model, BENCH_PARAMS, api_base=api_base, api_key=api_key)
    cache = ResponseCache(cache_dir / f"{tag}.sqlite")
    gateway = LLMGateway({"extract": settings}, cache, GatewayConfig(max_in_flight=concurrency, max_retries=0), asset="bench")
    requests = [LLMRequest.of("extract", _messages(tag, i), "bench@v1") for i in range(n)]
    started = time.perf_counter()
    results = await gateway.acomplete(requests)
    elapsed = time.perf_counter() - started
    cache.close()
    return sum(1 for r in results if r.error), elapsed


async def run_bench(api_base: str, model: str, requests: int, concurrency: int, api_key: str = "EMPTY",
                    rounds: int = 2, out=print) -> tuple[BenchSide, BenchSide]:
    plain, gateway = BenchSide("plain litellm.acompletion + semaphore"), BenchSide("xcoder gateway (cache, limits, retries, accounting)")
    per_round = max(1, requests // rounds)
    with tempfile.TemporaryDirectory(prefix="xcoder-bench-") as tmp:
        await _plain(api_base, model, api_key, min(concurrency, per_round), concurrency, "warmup")  # open connections
        for r in range(rounds):
            order = [("plain", plain), ("gateway", gateway)] if r % 2 == 0 else [("gateway", gateway), ("plain", plain)]
            for kind, side in order:
                if kind == "plain":
                    errors, seconds = await _plain(api_base, model, api_key, per_round, concurrency, f"p{r}")
                else:
                    errors, seconds = await _gateway(api_base, model, api_key, per_round, concurrency, f"g{r}", Path(tmp))
                side.requests += per_round
                side.errors += errors
                side.seconds += seconds
    for side in (plain, gateway):
        out(f"{side.name}: {side.requests} requests, {side.errors} errors, {side.seconds:.2f} s, {side.rps:.1f} requests/s")
    ratio = gateway.rps / plain.rps if plain.rps else 0.0
    out(f"gateway/plain requests/s ratio: {ratio:.3f} (gateway {gateway.rps:.1f}, plain {plain.rps:.1f}, "
        f"concurrency {concurrency}, {requests} requests each)")
    return plain, gateway
