"""Shared by the cost tests: a features stage materialized against a local fake server, and its figures."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from xcoder_assets.defs.resources import LLMGatewayResource
from xcoder_assets.llm.cache import ResponseCache
from xcoder_assets.llm.gateway import GatewayConfig, LLMGateway, LLMRequest
from xcoder_assets.llm.pricing import parse_price
from xcoder_assets.llm.settings import GenerationParams, RoleSettings
from xcoder_assets.simulator import fake_server
from xcoder_assets_tests.batches import materialize_location

SIM_MODEL = "openai/synthsmith-sim-1"  # the fake server answers it with the offline simulator, over HTTP
BATCH_PRICE = "2,4,1,2"  # USD per million tokens: list 2/4, batch 1/2 (the batch server bills batch lines at half)


def batch_server_fixtures():
    """The provider batch tests' fixtures, for a module to bind as `server, complete_mode = batch_server_fixtures()`:
    each module has its own server, as the batch mode is server-wide, so no other module's test shares it; every
    test starts and ends in mode `complete`."""

    @pytest.fixture(scope="module")
    def server():
        with fake_server.running(price_in=2.0, price_out=4.0, batch_discount=0.5) as url:
            yield url

    @pytest.fixture(autouse=True)
    def complete_mode(server):
        batch_control(server, "complete")
        yield
        batch_control(server, "complete")

    return server, complete_mode


def batch_gateway(url, path, model="openai/fake-model", wait_s=10.0, batch=True, api_key="sk-test", top_k=None):
    """A gateway whose extract role goes through `model`'s batch API at BATCH_PRICE, polling quickly."""
    settings = RoleSettings(
        "extract",
        model,
        GenerationParams(0.7, 0.95, 256, top_k=top_k),
        api_base=url,
        api_key=api_key,
        price_override=parse_price(BATCH_PRICE, "XCODER_PRICE_EXTRACT"),
        batch=batch,
    )
    config = GatewayConfig(max_retries=1, backoff_base_s=0.01, batch_poll_s=0.05, batch_wait_s=wait_s)
    return LLMGateway({"extract": settings}, ResponseCache(path), config, run_id=f"run-{time.time_ns()}", asset="a")


def batch_requests(prefix, n, failing=(), template="t@v1", system=None):
    """n distinct extract requests; those in `failing` fail alone in a batch (the fake server's scenario)."""
    head = [{"role": "system", "content": system}] if system else []
    return [
        LLMRequest.of(
            "extract",
            head
            + [{"role": "user", "content": f"{prefix} q{i}" + (" SCENARIO: batch-line-error" if i in failing else "")}],
            template,
        )
        for i in range(n)
    ]


def server_stats(url: str) -> dict:
    with urllib.request.urlopen(url.rsplit("/v1", 1)[0] + "/stats", timeout=30) as response:
        return json.loads(response.read())


def batch_control(url: str, mode: str, polls: int = 0) -> None:
    body = json.dumps({"mode": mode, "polls": polls}).encode()
    request = urllib.request.Request(
        url.rsplit("/v1", 1)[0] + "/batches/control", body, {"Content-Type": "application/json"}
    )
    urllib.request.urlopen(request, timeout=30).close()


def llm_resource(url: str, **fields) -> LLMGatewayResource:
    return LLMGatewayResource(
        extract_model=SIM_MODEL, extract_api_base=url, extract_api_key="sk-test", max_retries=1, **fields
    )


def materialize(data_dir, selection, llm=None, run_config=None, instance=None, raise_on_error=True):
    return materialize_location(data_dir, selection, llm, run_config, instance, raise_on_error)


def seeds(data_dir, limit: int):
    """The first `limit` seed problems (a larger limit keeps the smaller one's seeds)."""
    return materialize(data_dir, ["seed_problems"], run_config={"ops": {"seed_problems": {"config": {"limit": limit}}}})


def failure_message(result) -> str:
    failure = next(e for e in result.all_events if e.is_step_failure)
    return failure.step_failure_data.user_failure_data.description
