"""Shared by the cost tests: a features stage materialized against a local fake server, and its figures."""

from __future__ import annotations

import json
import urllib.request

from xcoder_assets.defs.resources import LLMGatewayResource
from xcoder_assets_tests.batches import materialize_location

SIM_MODEL = "openai/synthsmith-sim-1"  # the fake server answers it with the offline simulator, over HTTP


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
