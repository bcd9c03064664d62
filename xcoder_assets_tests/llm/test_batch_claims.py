"""Provider batches are claimed (llm/batches.py): two processes that submit the same requests through the
batch API at the same moment (spawned, started by a barrier) submit one provider batch between them, on a
shared SQLite file and on Postgres (a private cluster); the other process resumes that batch (its answers
count as cache hits there) instead of submitting its own. Against the fake server's batch endpoints, which
count the batches and lines they receive."""

from __future__ import annotations

import json
import time

import pytest

from xcoder_assets.llm.cache import ResponseCache
from xcoder_assets.simulator import fake_server
from xcoder_assets.store.sqlstore import count_responses
from xcoder_assets_tests.llm.batch_claim_worker import batch_writer
from xcoder_assets_tests.llm.cost_helpers import server_stats
from xcoder_assets_tests.postgres_cluster import fresh_database, postgres_cluster
from xcoder_assets_tests.shared_cache_workers import race

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

WRITERS, N = 2, 12


@pytest.fixture(scope="module")
def server():
    with fake_server.running() as url:
        yield url


@pytest.fixture(scope="module")
def cluster():
    with postgres_cluster() as url:
        yield url


# The claims logic is one code path on both; the Postgres race (a private cluster, ~25 s a test) runs in make test-slow.
@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.slow)])
def location(request, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "llm_cache.sqlite")
    return fresh_database(request.getfixturevalue("cluster"), f"bc{time.time_ns()}")


def batch_race(location: str, server: str, tag: str, submit_only: bool) -> list[dict]:
    return race(batch_writer, lambda w: (location, server, tag, N, submit_only), WRITERS)


def test_two_processes_completing_the_same_batch_requests_submit_one_batch(server, location):
    before = server_stats(server)
    reports = batch_race(location, server, f"c{time.time_ns()}", submit_only=False)
    after = server_stats(server)
    assert after["batches_created"] - before["batches_created"] == 1  # one provider batch between the two
    assert after["batch_lines"] - before["batch_lines"] == N and after["requests"] == before["requests"]
    assert all(r["ok"] == N for r in reports) and reports[0]["contents"] == reports[1]["contents"]
    assert sum(r["sent"] for r in reports) == N and sum(r["hits"] for r in reports) == N * (WRITERS - 1)
    assert count_responses(location) == N
    cache = ResponseCache(location)
    try:
        batches = cache.unfinished_batches()
        totals = cache.totals()
    finally:
        cache.close()
    assert batches == []  # collected
    assert (totals["llm_calls"], totals["cache_hits"], totals["cached_responses"]) == (N, N, N)


def test_two_processes_submitting_without_waiting_submit_one_batch(server, location):
    before = server_stats(server)
    reports = batch_race(location, server, f"s{time.time_ns()}", submit_only=True)
    after = server_stats(server)
    assert [r["candidates"] for r in reports] == [N, N]
    assert after["batches_created"] - before["batches_created"] == 1
    assert after["batch_lines"] - before["batch_lines"] == N
    other = ResponseCache(location, owner="a third process")
    try:
        (batch,) = other.open_batches("extract", "openai/fake-model")  # recorded once: complete() collects it
        keys = json.loads(batch["cache_keys_json"])
        assert len(keys) == N
        assert other.store.claim("llm", keys, lambda _: {}).mine == set(keys)  # the record ended both's claims
    finally:
        other.close()
