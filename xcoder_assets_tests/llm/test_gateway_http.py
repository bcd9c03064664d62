"""The gateway over real HTTP, against the local fake OpenAI-compatible server."""

import asyncio
import time

from xcoder_assets.llm.cache import ResponseCache
from xcoder_assets.llm.gateway import GatewayConfig, LLMGateway, LLMRequest, WindowLimiter
from xcoder_assets.llm.settings import GenerationParams, RoleSettings

PARAMS = GenerationParams(temperature=0.7, top_p=0.95, max_tokens=256, top_k=20)


def make_gateway(url, cache=None, **config):
    settings = RoleSettings("extract", "openai/fake-model", PARAMS, api_base=url, api_key="sk-test")
    defaults = dict(max_in_flight=8, max_retries=3, backoff_base_s=0.01, backoff_max_s=0.05, request_timeout_s=2)
    return LLMGateway({"extract": settings}, cache, GatewayConfig(**{**defaults, **config}))


def request(text, tag=""):
    return LLMRequest.of("extract", [{"role": "user", "content": text}], "test@v1", tag)


def test_every_request_ends_as_a_result_or_an_error_with_a_reason(fake_llm_url, tmp_path):
    unique = str(time.time_ns())
    prompts = {
        "ok": f"{unique} plain",
        "429": f"{unique} SCENARIO: 429:2",
        "500": f"{unique} SCENARIO: 500:2",
        "503": f"{unique} SCENARIO: 503:1",
        "timeout": f"{unique} SCENARIO: timeout:1",
        "drop": f"{unique} SCENARIO: drop:1",
        "malformed": f"{unique} SCENARIO: malformed:1",
        "truncated": f"{unique} SCENARIO: truncated",
        "think": f"{unique} SCENARIO: think",
        "reasoning": f"{unique} SCENARIO: reasoning-field",
        "outage": f"{unique} SCENARIO: always-500",
        "garbage": f"{unique} SCENARIO: always-malformed",
        "bad": f"{unique} SCENARIO: bad-request",
    }
    gateway = make_gateway(fake_llm_url, ResponseCache(tmp_path / "c.sqlite"))
    results = dict(zip(prompts, gateway.complete([request(p) for p in prompts.values()])))

    for name in ("ok", "429", "500", "503", "timeout", "drop", "malformed", "truncated", "think", "reasoning"):
        assert results[name].ok, (name, results[name].error)
    assert results["429"].attempts == 3 and results["500"].attempts == 3
    assert results["timeout"].attempts == 2 and results["drop"].attempts == 2 and results["malformed"].attempts == 2
    assert results["truncated"].truncated and results["truncated"].finish_reason == "length"
    assert results["think"].content == "final answer" and results["think"].reasoning == "I should answer briefly."
    assert results["reasoning"].content == "final answer" and results["reasoning"].reasoning == "step by step reasoning"
    assert results["ok"].prompt_tokens > 0 and results["ok"].completion_tokens > 0

    outage = results["outage"]
    assert (
        not outage.ok and outage.attempts == 4 and "gave up after 4 attempts" in outage.error and "500" in outage.error
    )
    assert not results["garbage"].ok and "gave up" in results["garbage"].error
    bad = results["bad"]
    assert not bad.ok and bad.attempts == 1 and bad.error.startswith("http_400")

    stats = gateway.stats
    assert stats.requests == len(prompts) and stats.errors == 3 and stats.truncated == 1
    assert stats.retries >= 2 + 2 + 1 + 1 + 1 + 1 + 3 + 3


def test_cache_makes_the_second_run_free_and_errors_are_retried(fake_llm_url, tmp_path):
    unique = str(time.time_ns())
    batch = [request(f"{unique} q{i}") for i in range(5)] + [request(f"{unique} SCENARIO: always-500")]
    cache_path = tmp_path / "c.sqlite"
    first = make_gateway(fake_llm_url, ResponseCache(cache_path), max_retries=0)
    first_results = first.complete(batch)
    assert first.stats.llm_calls == 6 and first.stats.cache_hits == 0

    second = make_gateway(fake_llm_url, ResponseCache(cache_path), max_retries=0)
    second_results = second.complete(batch)
    assert second.stats.cache_hits == 5 and second.stats.llm_calls == 1  # only the failed one is re-tried
    assert [r.content for r in second_results[:5]] == [r.content for r in first_results[:5]]
    assert [r.call_id for r in second_results] == [r.call_id for r in first_results]

    totals = ResponseCache(cache_path).totals()
    assert totals["llm_calls"] == 5 and totals["cache_hits"] == 5 and totals["errors"] == 2


def test_identical_requests_in_one_batch_share_one_call(fake_llm_url, tmp_path):
    unique = str(time.time_ns())
    gateway = make_gateway(fake_llm_url, ResponseCache(tmp_path / "c.sqlite"))
    results = gateway.complete([request(f"{unique} same")] * 4)
    assert gateway.stats.llm_calls == 1 and gateway.stats.cache_hits == 3
    assert len({r.content for r in results}) == 1


def test_changing_a_parameter_or_template_changes_the_key(fake_llm_url, tmp_path):
    unique = str(time.time_ns())
    cache = ResponseCache(tmp_path / "c.sqlite")
    make_gateway(fake_llm_url, cache).complete([request(f"{unique} x")])
    other_template = LLMRequest.of("extract", [{"role": "user", "content": f"{unique} x"}], "test@v2")
    gateway = make_gateway(fake_llm_url, cache)
    gateway.complete([request(f"{unique} x"), other_template])
    assert gateway.stats.cache_hits == 1 and gateway.stats.llm_calls == 1


def test_concurrency_is_bounded():
    in_flight = peak = 0

    async def fake_completion(**kwargs):
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return await instant_completion()

    gateway = LLMGateway(
        {"extract": offline_settings()}, None, GatewayConfig(max_in_flight=5), completion=fake_completion
    )
    results = gateway.complete([request(f"c{i}") for i in range(40)])
    assert all(r.ok for r in results) and peak == 5


def test_window_limiter_holds_the_rate():
    async def scenario():
        limiter = WindowLimiter(limit=3, window_s=0.3)
        started = time.monotonic()
        for _ in range(7):
            await limiter.acquire(1)
        return time.monotonic() - started

    elapsed = asyncio.run(scenario())
    assert elapsed >= 0.6  # 7 units at 3 per 0.3 s need two full windows of waiting


async def instant_completion(**kwargs):
    from litellm import ModelResponse

    return ModelResponse(
        choices=[{"message": {"role": "assistant", "content": "x"}, "finish_reason": "stop"}],
        usage={"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    )


def offline_settings():
    return RoleSettings("extract", "openai/fake-model", PARAMS, api_base="http://127.0.0.1:9", api_key="k")


def test_requests_per_minute_limit_is_applied():
    config = GatewayConfig(requests_per_minute=3, rate_window_s=0.3)
    gateway = LLMGateway({"extract": offline_settings()}, None, config, completion=instant_completion)
    started = time.monotonic()
    results = gateway.complete([request(f"r{i}") for i in range(7)])
    assert all(r.ok for r in results) and time.monotonic() - started >= 0.6


def test_tokens_per_minute_limit_is_applied():
    # each request is estimated at ~100 prompt tokens (400 chars / 4) and reports 10 completion tokens
    config = GatewayConfig(tokens_per_minute=250, rate_window_s=0.3)
    gateway = LLMGateway({"extract": offline_settings()}, None, config, completion=instant_completion)
    started = time.monotonic()
    results = gateway.complete([request(f"{i:04d}" + "x" * 396) for i in range(5)])
    assert all(r.ok for r in results) and time.monotonic() - started >= 0.3
