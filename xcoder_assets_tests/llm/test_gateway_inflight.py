"""The configured in-flight count is real: no connection cap below max_in_flight, no per-request pool
warnings, an open-file limit that fits, and a server that counts what it sees."""

import asyncio
import io
import json
import logging
import urllib.request

import pytest

from xcoder_assets.llm import gateway as gateway_module, limits
from xcoder_assets.llm.bench import Progress, bench_main, parse_requests
from xcoder_assets.llm.gateway import POOL_WAIT_FILTER, GatewayConfig, LLMGateway, LLMRequest
from xcoder_assets.llm.settings import GenerationParams, RoleSettings
from xcoder_assets.simulator import fake_server

PARAMS = GenerationParams(temperature=0.0, top_p=1.0, max_tokens=16)


@pytest.fixture(scope="module")
def slow_llm_url():
    """A fake server of its own (on a free port) answering after 1 s: only a slow endpoint shows a cap."""
    with fake_server.running(latency_s=1.0) as url:
        yield url


def server_call(url: str, path: str, method: str = "GET") -> dict:
    root = url[: -len("/v1")]
    with urllib.request.urlopen(
        urllib.request.Request(root + path, method=method, data=b"" if method == "POST" else None), timeout=10
    ) as response:
        return json.loads(response.read())


def make_gateway(url: str, max_in_flight: int) -> LLMGateway:
    settings = RoleSettings("extract", "openai/fake-model", PARAMS, api_base=url, api_key="sk-test")
    return LLMGateway(
        {"extract": settings}, None, GatewayConfig(max_in_flight=max_in_flight, max_retries=0, request_timeout_s=30)
    )


def requests_for(tag: str, n: int) -> list[LLMRequest]:
    return [LLMRequest.of("extract", [{"role": "user", "content": f"inflight {tag} {i}"}], "t@v1") for i in range(n)]


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


def test_300_in_flight_reach_the_server_with_no_pool_warning(slow_llm_url):
    handler = Collect()
    litellm_logger = logging.getLogger("LiteLLM")
    litellm_logger.addHandler(handler)
    dropped_before = POOL_WAIT_FILTER.dropped
    try:
        server_call(slow_llm_url, "/stats/reset", "POST")
        gateway = make_gateway(slow_llm_url, 300)
        results = gateway.complete(requests_for("a", 300))
        seen = server_call(slow_llm_url, "/stats")
    finally:
        litellm_logger.removeHandler(handler)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    assert seen["peak_in_flight"] >= 270, seen  # no hidden 100-connection (or any) cap below max_in_flight
    assert seen["peak_in_flight"] <= 300 and seen["in_flight"] == 0
    assert gateway.in_flight == 0
    assert not [r for r in handler.records if "pool" in r.getMessage().lower() and r.levelno >= logging.WARNING]
    assert POOL_WAIT_FILTER.dropped == dropped_before  # and none was even raised: no request waited for a slot


def test_one_session_per_loop_with_no_cap_closed_with_the_loop(slow_llm_url):
    async def two_batches():
        first = make_gateway(slow_llm_url, 50)
        await first.acomplete(requests_for("b1", 50))
        session = gateway_module.http_session()
        connector = session.connector
        second = make_gateway(slow_llm_url, 120)  # a second gateway on the same loop: the same session
        await asyncio.to_thread(server_call, slow_llm_url, "/stats/reset", "POST")
        results = await second.acomplete(requests_for("b2", 120))
        peak = (await asyncio.to_thread(server_call, slow_llm_url, "/stats"))["peak_in_flight"]
        return session, connector, gateway_module.http_session() is session, results, peak

    session, connector, same, results, peak = asyncio.run(two_batches())
    assert same and all(r.ok for r in results)
    assert connector.limit == 0 and connector.limit_per_host == 0
    assert peak >= 108
    assert session.closed  # closed when asyncio.run ended the loop, so no "Unclosed client session"
    assert not gateway_module._SESSIONS  # and forgotten


def test_litellm_sends_over_the_gateways_session(slow_llm_url, monkeypatch):
    """The connector the gateway hands litellm is the one that bounds connections: with a capped one, the
    server sees that cap (were the session ignored, it would see all 20)."""
    import aiohttp

    async def capped_batch():
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=10, limit_per_host=10))
        monkeypatch.setattr(gateway_module, "http_session", lambda: session)
        try:
            await asyncio.to_thread(server_call, slow_llm_url, "/stats/reset", "POST")
            results = await make_gateway(slow_llm_url, 20).acomplete(requests_for("capped", 20))
            return results, (await asyncio.to_thread(server_call, slow_llm_url, "/stats"))["peak_in_flight"]
        finally:
            await session.close()

    results, peak = asyncio.run(capped_batch())
    assert all(r.ok for r in results) and peak == 10


def test_pool_warning_filter_drops_only_the_pool_warning():
    handler = Collect()
    logger = logging.getLogger("LiteLLM")
    gateway_module.quiet_litellm_pool_warnings()
    gateway_module.quiet_litellm_pool_warnings()  # idempotent
    assert logger.filters.count(POOL_WAIT_FILTER) == 1
    logger.addHandler(handler)
    before = POOL_WAIT_FILTER.dropped
    try:
        logger.warning("aiohttp connection pool saturated: host=%s port=%s waited=%.3fs", "127.0.0.1", 1, 1.5)
        logger.warning("some other warning")
        logger.error("a real error")
    finally:
        logger.removeHandler(handler)
    assert [r.getMessage() for r in handler.records] == ["some other warning", "a real error"]
    assert POOL_WAIT_FILTER.dropped == before + 1


def test_open_file_limit_is_raised_to_the_hard_limit_and_a_too_large_count_fails_clearly(monkeypatch):
    resource = pytest.importorskip("resource")
    original = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft, hard = original
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no finite hard RLIMIT_NOFILE to test against")
    monkeypatch.setattr(limits, "_raised_nofile", None)  # as in a fresh process
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 512), hard))
    try:
        make_gateway("http://127.0.0.1:9/v1", 64)  # starting a gateway raises the soft limit
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard)
        assert limits.raise_open_file_limit() == (hard, hard)  # once: later calls only check
        fits = hard - limits.FILE_HEADROOM
        make_gateway("http://127.0.0.1:9/v1", fits)
        with pytest.raises(gateway_module.LLMConfigError) as failed:
            make_gateway("http://127.0.0.1:9/v1", fits + 1)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, original)
    message = str(failed.value)
    assert f"max_in_flight={fits + 1}" in message and "RLIMIT_NOFILE" in message and str(hard) in message
    assert f"lower max_in_flight to {fits}" in message and "\n" not in message


def test_bench_starts_its_own_server_and_reports_what_the_server_saw(capsys):
    results = bench_main(
        None, "openai/fake-model", "2x", [60], rounds=2, latency_s=0.5, fake_server=fake_server.running
    )
    (result,) = results
    for side in (result.plain, result.gateway):
        assert side.requests == 120 and side.errors == 0
        assert side.peak_in_flight is not None and side.peak_in_flight >= 54
        assert side.mean_in_flight is not None and 0 < side.mean_in_flight <= 60
    lines = capsys.readouterr().out.strip().splitlines()
    assert "peak" in lines[-3] and "peak" in lines[-2] and lines[-1].startswith("gateway/plain requests/s ratio: ")
    assert parse_requests("2x", 4000) == 8000 and parse_requests("300", 4000) == 300


def test_progress_rewrites_one_line_on_a_terminal_and_prints_lines_elsewhere():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    async def run(stream):
        progress = Progress(stream, every_s=0.01)
        done = [0]
        async with progress.track("side", 10, lambda: done[0], lambda: 3):
            for _ in range(5):
                done[0] += 2
                await asyncio.sleep(0.02)

    terminal, pipe = Terminal(), io.StringIO()
    asyncio.run(run(terminal))
    asyncio.run(run(pipe))
    assert "\n" not in terminal.getvalue() and "\r" in terminal.getvalue() and "3 in flight" in terminal.getvalue()
    assert terminal.getvalue().endswith("\r")  # cleared for the results
    assert "\r" not in pipe.getvalue() and pipe.getvalue().count("\n") >= 2 and "/10 done" in pipe.getvalue()
