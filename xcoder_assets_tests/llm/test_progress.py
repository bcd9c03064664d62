"""LLMGateway.complete(..., on_progress=) reports (done, total, cached) after every finished request."""

import logging

from litellm import ModelResponse

from xcoder_assets.llm.cache import ResponseCache
from xcoder_assets.llm.gateway import LLMGateway, LLMRequest
from xcoder_assets.llm.settings import GenerationParams, RoleSettings

SETTINGS = RoleSettings(
    "extract", "openai/fake-model", GenerationParams(0.7, 0.95, 64), api_base="http://127.0.0.1:9", api_key="k"
)


async def instant(**kwargs):
    return ModelResponse(
        choices=[{"message": {"role": "assistant", "content": "x"}, "finish_reason": "stop"}],
        usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    )


def request(i: int) -> LLMRequest:
    return LLMRequest.of("extract", [{"role": "user", "content": f"p{i}"}], "t@v1")


def test_progress_counts_every_finished_request_and_the_cached_ones(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    batch = [request(i) for i in range(5)] + [request(0)]  # the duplicate shares the first call: a hit
    seen = []
    LLMGateway({"extract": SETTINGS}, cache, completion=instant).complete(batch, on_progress=lambda *a: seen.append(a))
    assert [done for done, _, _ in seen] == list(range(1, 7)) and {total for _, total, _ in seen} == {6}
    assert seen[-1] == (6, 6, 1)
    again = []
    LLMGateway({"extract": SETTINGS}, cache, completion=instant).complete(
        batch[:3], on_progress=lambda *a: again.append(a)
    )
    assert again == [(1, 3, 1), (2, 3, 2), (3, 3, 3)]  # all from the cache


def test_a_failing_progress_callback_never_fails_the_batch(caplog):
    calls = []

    def broken(done, total, cached):
        calls.append(done)
        raise RuntimeError("display gone")

    gateway = LLMGateway({"extract": SETTINGS}, None, completion=instant)
    with caplog.at_level(logging.ERROR):
        results = gateway.complete([request(i) for i in range(4)], on_progress=broken)
    assert all(r.ok for r in results) and calls == [1]
    assert "on_progress failed" in caplog.text
