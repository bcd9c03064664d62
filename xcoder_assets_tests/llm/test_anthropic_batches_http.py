"""Anthropic's Message Batches (which litellm cannot create), over real HTTP against the fake server's
/v1/messages/batches endpoints: answers at the batch price into the same cache, failed, expired and
errored requests sent again by the next run, a pending batch resumed and never resubmitted, and the
features stage through it giving the rows of the OpenAI batch path."""

from __future__ import annotations

import time

import polars as pl
import pytest

from xcoder_assets.defs.resources import LLMGatewayResource
from xcoder_assets.llm import anthropic_batches as anthropic
from xcoder_assets.llm.batches import BatchPending
from xcoder_assets.llm.cache import ResponseCache
from xcoder_assets.llm.wire import batch_custom_id, split_batch_custom_id
from xcoder_assets.store.tables import FEATURES
from xcoder_assets_tests.llm.cost_helpers import (
    BATCH_PRICE,
    batch_control,
    batch_gateway,
    batch_requests,
    batch_server_fixtures,
    llm_resource,
    materialize,
    seeds,
    server_stats,
)

pytestmark = pytest.mark.timeout(600)
PRICE = BATCH_PRICE
server, complete_mode = batch_server_fixtures()


def gateway(url, path, wait_s=10.0, api_key="sk-ant-test"):
    return batch_gateway(url, path, "anthropic/fake-model", wait_s=wait_s, api_key=api_key, top_k=20)


def requests(prefix, n, failing=()):
    return batch_requests(prefix, n, failing, template="extract_features@v1", system="You extract features.")


def test_custom_ids_fit_anthropic_and_name_the_request_and_template():
    key = "0123456789abcdef0123456789abcdef"
    custom_id = batch_custom_id(key, "compose_scenario@v12", "anthropic")
    assert custom_id == f"{key}-compose_scenario-v12" and len(custom_id) <= 64
    assert split_batch_custom_id(custom_id) == (key, "compose_scenario@v12")
    assert batch_custom_id(key, "a_template_name_longer_than_the_limit_allows@v1", "anthropic") == key
    assert split_batch_custom_id(key) == (key, None)
    assert split_batch_custom_id(batch_custom_id(key, "solve@v1")) == (key, "solve@v1")  # OpenAI's form


def test_a_chat_request_becomes_messages_params_and_a_result_an_answer():
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    params = {"temperature": 0.7, "top_p": 0.95, "top_k": 20, "max_tokens": 256, "seed": 3}
    assert anthropic.message_params("claude-x", messages, params) == {
        "model": "claude-x",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "U"}],
        "system": "S",
        "temperature": 0.7,
        "top_p": 0.95,
        "top_k": 20,
    }
    message = {
        "content": [{"type": "thinking", "thinking": "hmm"}, {"type": "text", "text": "42"}],
        "stop_reason": "max_tokens",
        "usage": {"input_tokens": 11, "output_tokens": 7},
    }
    answer = anthropic.result_answer({"type": "succeeded", "message": message})
    assert (answer["content"], answer["reasoning"], answer["finish_reason"]) == ("42", "hmm", "length")
    assert (answer["prompt_tokens"], answer["completion_tokens"]) == (11, 7)
    errored = {"type": "errored", "error": {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}}
    assert anthropic.result_answer(errored) == "batch_line_error: overloaded_error: busy"
    assert anthropic.result_answer({"type": "expired"}).startswith("batch_line_expired: ")
    assert anthropic.result_answer({"type": "surprise"}) == "malformed_response: batch result type 'surprise'"


def test_a_message_batch_is_answered_at_the_batch_price_and_failed_requests_go_again(server, tmp_path):
    prefix = str(time.time_ns())
    before = server_stats(server)
    batch = requests(prefix, 4, failing={2})
    results = gateway(server, tmp_path / "c.sqlite").complete(batch + batch[:1])  # the last repeats the first
    after = server_stats(server)
    assert after["batches_created"] - before["batches_created"] == 1
    assert after["batch_lines"] - before["batch_lines"] == 4 and after["requests"] == before["requests"]
    assert [r.ok for r in results] == [True, True, False, True, True]
    assert results[0].content == f"answer to '{prefix} q0'" and results[4].cache_hit
    assert results[2].error == "batch_line_error: api_error: simulated line failure"
    billed = after["billed_usd"] - before["billed_usd"]
    assert billed > 0 and sum(r.cost_usd for r in results[:4]) == pytest.approx(billed)  # the batch price
    totals = ResponseCache(tmp_path / "c.sqlite").totals()
    assert (
        totals["llm_calls"] == 3 and totals["cost_usd"]
    )  # the answers (the failed request is not one) == pytest.approx(billed, abs=1e-6)

    again = gateway(server, tmp_path / "c.sqlite").complete(batch)
    final = server_stats(server)
    assert [r.cache_hit for r in again] == [True, True, False, True]
    assert final["batches_created"] - after["batches_created"] == 1 and final["batch_lines"] - after["batch_lines"] == 1


def test_expired_requests_are_sent_again_and_a_pending_batch_is_resumed(server, tmp_path):
    prefix = str(time.time_ns())
    batch_control(server, "expire")
    expired = gateway(server, tmp_path / "c.sqlite").complete(requests(prefix, 4))
    assert [r.ok for r in expired] == [True, True, False, False]
    assert expired[3].error.startswith("batch_line_expired: ")

    batch_control(server, "hold")
    before = server_stats(server)
    with pytest.raises(BatchPending, match=r"provider batch msgbatch_\d+ \(2 requests, role extract\) is still"):
        gateway(server, tmp_path / "c.sqlite", wait_s=0.3).complete(requests(prefix, 4))
    batch_control(server, "complete")
    resumed = gateway(server, tmp_path / "c.sqlite").complete(requests(prefix, 4))
    after = server_stats(server)
    assert all(r.ok for r in resumed) and [r.cache_hit for r in resumed] == [True, True, False, False]
    assert after["batches_created"] - before["batches_created"] == 1  # the held one, collected: none resubmitted


def test_a_refused_key_stops_the_run_with_one_message(server, tmp_path):
    with pytest.raises(Exception, match=r"the provider's batch API failed \(create\): http_401: .*x-api-key"):
        gateway(server, tmp_path / "c.sqlite", api_key="").complete(requests(str(time.time_ns()), 1))


def feature_rows(data_dir) -> pl.DataFrame:
    """The rows without what names the model (ids are derived from the call, which names it) or the run."""
    rows = pl.read_parquet(FEATURES.path(data_dir))
    return rows.drop("feature_id", "llm_call_id", "model", "run_id").sort("seed_id")


def test_the_features_stage_through_message_batches_gives_the_openai_batch_rows(server, tmp_path):
    openai_dir, anthropic_dir = tmp_path / "openai" / "data", tmp_path / "anthropic" / "data"
    for data_dir in (openai_dir, anthropic_dir):
        seeds(data_dir, 5)
    materialize(openai_dir, ["features"], llm=llm_resource(server, extract_price=PRICE, extract_batch=True))
    before = server_stats(server)
    llm = LLMGatewayResource(
        extract_model="anthropic/synthsmith-sim-1",
        extract_api_base=server,
        extract_api_key="sk-ant-test",
        extract_price=PRICE,
        extract_batch=True,
        batch_poll_s=0.05,
        max_retries=1,
    )
    assert materialize(anthropic_dir, ["features"], llm=llm).success
    after = server_stats(server)
    assert after["batches_created"] - before["batches_created"] == 1 and after["requests"] == before["requests"]
    assert feature_rows(anthropic_dir).equals(feature_rows(openai_dir))
    assert feature_rows(anthropic_dir)["status"].to_list().count("ok") >= 3
