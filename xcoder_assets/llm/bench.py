"""`xcoder bench llm`: the gateway against plain `litellm.acompletion` with a semaphore, same run.

Both sides send the same number of distinct prompts at the same concurrency to the same endpoint,
in alternating rounds so that neither gets a warmer connection pool or a quieter machine. Each side's
clock runs until litellm's background logging of its own calls is done too, so that no side pays for
the previous one's. Both hand litellm the same aiohttp session (the gateway's `http_session`: no
connection cap besides the concurrency), with the same timeout and no litellm retries, so only the
gateway's own work differs.
The gateway runs with everything on: a fresh response cache (every request is a miss and is written),
the usage log, retries and accounting.

Against a slow endpoint the rate is bounded by in-flight requests (rate = in flight / latency), so the
bench reads how many requests the server saw in flight at most (`GET /stats` of the fake server; "n/a"
for an endpoint without it), per side. Without `--api-base` it starts the fake server itself, on a
free loopback port, with `--latency`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager, TextIO

import aiohttp
import litellm

from xcoder_assets.llm.cache import ResponseCache
from xcoder_assets.llm.gateway import (
    GatewayConfig,
    LLMConfigError,
    LLMGateway,
    LLMRequest,
    POOL_WAIT_FILTER,
    flush_litellm_logging,
    http_session,
    quiet_litellm_pool_warnings,
    raise_open_file_limit,
)
from xcoder_assets.llm.settings import GenerationParams, RoleSettings

BENCH_PARAMS = GenerationParams(temperature=0.0, top_p=1.0, max_tokens=64)
REQUEST_TIMEOUT_S = 600.0  # both sides: the gateway's default
WARMUP_REQUESTS = 64


@dataclass
class BenchSide:
    name: str
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    peak_in_flight: int | None = None  # the most requests the server saw at once, over this side's rounds
    in_flight_seconds: float | None = None  # requests in flight at the server integrated over the rounds' time
    server_seconds: float = 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def mean_in_flight(self) -> float | None:
        if self.in_flight_seconds is None or not self.server_seconds:
            return None
        return self.in_flight_seconds / self.server_seconds

    def add_server(self, peak: int, mean: float, seconds: float) -> None:
        self.peak_in_flight = max(self.peak_in_flight or 0, peak)
        self.in_flight_seconds = (self.in_flight_seconds or 0.0) + mean * seconds
        self.server_seconds += seconds

    def line(self) -> str:
        peak = "n/a" if self.peak_in_flight is None else str(self.peak_in_flight)
        mean = "n/a" if self.mean_in_flight is None else f"{self.mean_in_flight:.0f}"
        return (
            f"{self.name}: {self.requests} requests, {self.errors} errors, {self.seconds:.2f} s, "
            f"{self.rps:.1f} requests/s, in flight at the server: peak {peak}, mean {mean}"
        )


@dataclass
class BenchResult:
    concurrency: int
    requests: int  # per side
    plain: BenchSide
    gateway: BenchSide

    @property
    def ratio(self) -> float:
        return self.gateway.rps / self.plain.rps if self.plain.rps else 0.0


def parse_requests(text: str, concurrency: int) -> int:
    """`--requests`: a count per side, or `<k>x`, k times the concurrency."""
    text = text.strip().lower()
    count = round(float(text[:-1]) * concurrency) if text.endswith("x") else int(text)
    if count < 1:
        raise ValueError(f"that is {count} requests; at least 1 is needed")
    return count


def _messages(tag: str, index: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"benchmark {tag} request {index}: reply with one word"}]


class Progress:
    """One progress line: rewritten in place (`\\r`) on a terminal, else a line every `every_s` seconds."""

    def __init__(self, stream: TextIO | None = None, every_s: float | None = None):
        self.stream = stream or sys.stdout
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every_s = every_s if every_s is not None else (0.5 if self.tty else 10.0)
        self._width = 0

    @contextlib.asynccontextmanager
    async def track(self, label: str, total: int, done: Callable[[], int], in_flight: Callable[[], int]):
        started = time.perf_counter()

        def show(final: bool = False) -> None:
            elapsed = time.perf_counter() - started
            count = done()
            text = (
                f"{label}: {count}/{total} done, {count / elapsed if elapsed else 0.0:.1f} requests/s, "
                f"{in_flight()} in flight, {elapsed:.0f} s"
            )
            if self.tty:
                if final:  # clear the line: the results follow
                    self.stream.write("\r" + " " * self._width + "\r")
                else:
                    self.stream.write("\r" + text.ljust(self._width))
                    self._width = max(self._width, len(text))
            elif not final:
                self.stream.write(text + "\n")
            self.stream.flush()

        async def loop() -> None:
            while True:
                await asyncio.sleep(self.every_s)
                show()

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            show(final=True)


class ServerStats:
    """The fake server's in-flight counters (`/stats`, `/stats/reset`); None everywhere for other endpoints."""

    def __init__(self, api_base: str):
        root = api_base.rstrip("/")
        self.root = root[: -len("/v1")] if root.endswith("/v1") else root
        self.available = True

    async def _call(self, method: str, path: str) -> dict | None:
        if not self.available:
            return None
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
                async with session.request(method, self.root + path) as response:
                    if response.status != 200:
                        raise ValueError(response.status)
                    body = await response.json()
            if "peak_in_flight" not in body:
                raise ValueError("no peak_in_flight")
            return body
        except Exception:  # not our fake server: no counters
            self.available = False
            return None

    async def reset(self) -> None:
        await self._call("POST", "/stats/reset")

    async def read(self) -> tuple[int, float, float] | None:
        """(peak, mean in flight, seconds) since the last reset."""
        body = await self._call("GET", "/stats")
        if body is None:
            return None
        return int(body["peak_in_flight"]), float(body["mean_in_flight"]), float(body["seconds"])


async def _plain(
    api_base: str, model: str, api_key: str, n: int, concurrency: int, tag: str, progress: Progress | None = None
) -> tuple[int, float]:
    semaphore = asyncio.Semaphore(concurrency)
    errors = done = in_flight = 0

    async def one(i: int) -> None:
        nonlocal errors, done, in_flight
        async with semaphore:
            in_flight += 1
            try:
                await litellm.acompletion(
                    model=model,
                    messages=_messages(tag, i),
                    api_base=api_base,
                    api_key=api_key,
                    timeout=REQUEST_TIMEOUT_S,
                    num_retries=0,
                    max_retries=0,
                    shared_session=http_session(),
                    **BENCH_PARAMS.as_dict(),
                )
            except Exception:
                errors += 1
            finally:
                in_flight -= 1
                done += 1

    tracking = (
        progress.track(f"plain   {tag}", n, lambda: done, lambda: in_flight) if progress else contextlib.nullcontext()
    )
    started = time.perf_counter()
    async with tracking:
        await asyncio.gather(*(one(i) for i in range(n)))
        await flush_litellm_logging()  # litellm's deferred work for these calls is this side's, not the next's
    return errors, time.perf_counter() - started


async def _gateway(
    api_base: str,
    model: str,
    api_key: str,
    n: int,
    concurrency: int,
    tag: str,
    cache_dir: Path,
    progress: Progress | None = None,
) -> tuple[int, float]:
    settings = RoleSettings("extract", model, BENCH_PARAMS, api_base=api_base, api_key=api_key)
    cache = ResponseCache(cache_dir / f"{tag}.sqlite")
    config = GatewayConfig(max_in_flight=concurrency, max_retries=0, request_timeout_s=REQUEST_TIMEOUT_S)
    gateway = LLMGateway({"extract": settings}, cache, config, asset="bench")
    requests = [LLMRequest.of("extract", _messages(tag, i), "bench@v1") for i in range(n)]
    tracking = (
        progress.track(f"gateway {tag}", n, lambda: gateway.stats.requests, lambda: gateway.in_flight)
        if progress
        else contextlib.nullcontext()
    )
    started = time.perf_counter()
    async with tracking:
        results = await gateway.acomplete(requests)
        await flush_litellm_logging()
    elapsed = time.perf_counter() - started
    cache.close()
    return sum(1 for r in results if r.error), elapsed


async def bench_one(
    api_base: str,
    model: str,
    requests: int,
    concurrency: int,
    api_key: str = "EMPTY",
    rounds: int = 2,
    progress: Progress | None = None,
) -> BenchResult:
    plain, gateway = (
        BenchSide("plain litellm.acompletion + semaphore"),
        BenchSide("xcoder gateway (cache, limits, retries, accounting)"),
    )
    per_round = max(1, requests // rounds)
    server = ServerStats(api_base)
    with tempfile.TemporaryDirectory(prefix="xcoder-bench-") as tmp:
        # Warm the code paths and litellm's client cache; connections open in the first round, whose
        # side alternates.
        await _plain(api_base, model, api_key, min(WARMUP_REQUESTS, per_round), concurrency, f"c{concurrency}-warmup")
        for r in range(rounds):
            order = [("plain", plain), ("gateway", gateway)] if r % 2 == 0 else [("gateway", gateway), ("plain", plain)]
            for kind, side in order:
                tag = f"c{concurrency}-r{r + 1}/{rounds}"
                await server.reset()
                if kind == "plain":
                    errors, seconds = await _plain(api_base, model, api_key, per_round, concurrency, tag, progress)
                else:
                    errors, seconds = await _gateway(
                        api_base, model, api_key, per_round, concurrency, tag, Path(tmp), progress
                    )
                seen = await server.read()
                if seen is not None:
                    side.add_server(*seen)
                side.requests += per_round
                side.errors += errors
                side.seconds += seconds
    return BenchResult(concurrency, per_round * rounds, plain, gateway)


def report(result: BenchResult, out=print) -> None:
    for side in (result.plain, result.gateway):
        out(side.line())
    out(
        f"gateway/plain requests/s ratio: {result.ratio:.3f} (gateway {result.gateway.rps:.1f}, plain "
        f"{result.plain.rps:.1f}, concurrency {result.concurrency}, {result.requests} requests each)"
    )


def summary_table(results: list[BenchResult], latency: str) -> list[str]:
    lines = [
        "| configured in flight | endpoint latency | side | requests | errors | seconds | requests/s "
        "| peak in flight (server) | mean in flight (server) | gateway/plain |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for side, short in ((result.plain, "plain litellm"), (result.gateway, "xcoder gateway")):
            peak = "n/a" if side.peak_in_flight is None else str(side.peak_in_flight)
            mean = "n/a" if side.mean_in_flight is None else f"{side.mean_in_flight:.0f}"
            ratio = f"{result.ratio:.3f}" if side is result.gateway else ""
            lines.append(
                f"| {result.concurrency} | {latency} | {short} | {side.requests} | {side.errors} | "
                f"{side.seconds:.1f} | {side.rps:.1f} | {peak} | {mean} | {ratio} |"
            )
    return lines


async def run_bench(
    api_base: str,
    model: str,
    requests: int | str,
    concurrency: int | list[int],
    api_key: str = "EMPTY",
    rounds: int = 2,
    out=print,
    progress: Progress | None = None,
    latency: str = "?",
) -> list[BenchResult]:
    """Each concurrency in turn; `requests` per side, a count or `<k>x` the concurrency."""
    levels = [concurrency] if isinstance(concurrency, int) else list(concurrency)
    raise_open_file_limit(max(levels))  # one clear error before any request when they cannot fit
    quiet_litellm_pool_warnings()
    dropped_before = POOL_WAIT_FILTER.dropped
    results = []
    for level in levels:
        count = parse_requests(str(requests), level)
        if len(levels) > 1:
            out(f"-- concurrency {level}: {count} requests per side, {rounds} alternating rounds")
        result = await bench_one(api_base, model, count, level, api_key=api_key, rounds=rounds, progress=progress)
        report(result, out)
        results.append(result)
    if len(levels) > 1:
        out("")
        for line in summary_table(results, latency):
            out(line)
    waits = POOL_WAIT_FILTER.dropped - dropped_before
    if waits:
        out(
            f"({waits} requests waited over 1 s for a connection slot of litellm's own pool; their warnings were dropped)"
        )
    return results


def bench_main(
    api_base: str | None,
    model: str,
    requests: str,
    concurrency: list[int],
    api_key: str = "EMPTY",
    rounds: int = 2,
    latency_s: float = 0.2,
    out=print,
    fake_server: Callable[[float], ContextManager[str]] | None = None,
) -> list[BenchResult]:
    """The command: against `api_base`, or a fake server that `fake_server(latency_s)` starts (the caller's:
    the gateway's bench knows no simulator) answering after `latency_s`."""
    raise_open_file_limit(max(concurrency))  # before starting anything
    progress = Progress()
    if api_base:
        return asyncio.run(run_bench(api_base, model, requests, concurrency, api_key, rounds, out, progress, "?"))
    if fake_server is None:
        raise LLMConfigError("no --api-base and no fake server to start")
    with fake_server(latency_s) as url:
        out(f"fake server at {url}, answering after {latency_s:g} s")
        return asyncio.run(
            run_bench(url, model, requests, concurrency, api_key, rounds, out, progress, f"{latency_s:g} s")
        )
