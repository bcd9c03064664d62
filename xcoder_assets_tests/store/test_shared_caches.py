"""Two cache writers in separate OS processes (forked from a preloaded server; not containers) racing on the same
work, against a private Postgres cluster (XCODER_CACHE_URL) and against the default SQLite file: the fake
OpenAI server receives each request exactly once, no answer or usage row is lost, each sandbox run is run
once, and budget reservations hold across processes. Each test gets its own database and fake server."""

import time
import urllib.request
import json
from pathlib import Path

import pytest

from xcoder_assets.llm.cache import ResponseCache
from xcoder_assets.llm.spending import spent
from xcoder_assets.sandbox.runs import RunCache
from xcoder_assets.simulator import fake_server
from xcoder_assets.store import warehouse
from xcoder_assets.store.sqlstore import count_responses
from xcoder_assets_tests.llm.reserve_worker import reserve_many
from xcoder_assets_tests.postgres_cluster import fresh_database, postgres_cluster
from xcoder_assets_tests.shared_cache_workers import llm_writer, race, run_writer
from xcoder_assets_tests.processes import Workers

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

WRITERS = 2


@pytest.fixture(scope="module")
def cluster():
    with postgres_cluster() as url:
        yield url


@pytest.fixture(params=["postgres", "sqlite"])
def shared(request, tmp_path, monkeypatch):
    """(data directory, XCODER_CACHE_URL or None): each writer opens the caches of this data directory."""
    monkeypatch.delenv("XCODER_CACHE_URL", raising=False)
    if request.param == "sqlite":
        return tmp_path, None
    url = fresh_database(request.getfixturevalue("cluster"), f"t{time.time_ns()}")
    return tmp_path, url


def _race(target, args_of) -> list[dict]:
    return race(target, args_of, WRITERS)


def _server_stats(url: str) -> dict:
    with urllib.request.urlopen(url.removesuffix("/v1") + "/stats", timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.slow  # about a minute: two spawned writers import litellm on a busy 2-core machine
def test_two_llm_writers_send_each_request_once_and_log_every_answer(shared, monkeypatch):
    data_dir, cache_url = shared
    n = 40
    with fake_server.running(latency_s=0.3) as url:  # slow answers: the writers overlap for seconds
        reports = _race(llm_writer, lambda w: (str(data_dir), cache_url, url, "race", n))
        server = _server_stats(url)
    assert max(r["began"] for r in reports) < min(r["ended"] for r in reports)  # they really ran at once
    assert server["requests"] == n and server["distinct_prompts"] == n  # each request reached the server once
    assert all(r["ok"] == n for r in reports)
    assert sum(r["sent"] for r in reports) == n and sum(r["hits"] for r in reports) == n * (WRITERS - 1)
    assert reports[0]["contents"] == reports[1]["contents"]  # the waiting writer got the sender's answers
    if cache_url:
        monkeypatch.setenv("XCODER_CACHE_URL", cache_url)  # the readers below read the same database
    assert count_responses(cache_url or Path(data_dir) / "llm_cache.sqlite") == n
    log = warehouse.read_usage_log(data_dir)  # the usage log as `xcoder status` and the warehouse read it
    assert log.height == n * WRITERS and log["cache_hit"].sum() == n
    assert set(log["cache_key"]) == set(ResponseCache.at(data_dir).cached_keys(log["cache_key"].to_list()))
    rows = spent(data_dir)
    assert sum(r.requests for r in rows) == n and len({r.run_id for r in rows}) <= WRITERS
    con = warehouse.connect(data_dir, views=False, lineage=False)  # `xcoder status`'s totals, summed where the log is
    totals = warehouse.llm_totals(con)
    con.close()
    assert (totals["requests"], totals["sent_to_model"], totals["cache_hits"]) == (n * WRITERS, n, n)
    assert totals["runs"] == WRITERS and totals["not_sent"] == 0 and totals["errors"] == 0


def test_two_sandbox_writers_run_each_pair_once(shared, monkeypatch, bwrap_backend):
    data_dir, cache_url = shared
    programs = [f"import time\ntime.sleep(0.05)\nprint(int(input()) * {k})\n" for k in range(1, 9)]
    inputs = ["1\n", "2\n", "3\n", "4\n"]
    reports = _race(run_writer, lambda w: (str(data_dir), cache_url, programs, inputs))
    pairs = len(programs) * len(inputs)
    assert max(r["began"] for r in reports) < min(r["ended"] for r in reports)  # they really ran at once
    assert sum(r["executed"] for r in reports) == pairs  # every pair run once, in one of the two
    assert sum(r["cached"] for r in reports) == pairs * (WRITERS - 1)
    expected = [[f"{int(i) * k}\n" for i in inputs] for k in range(1, 9)]
    assert all(r["stdout"] == expected for r in reports)
    if cache_url:
        monkeypatch.setenv("XCODER_CACHE_URL", cache_url)
    cache = RunCache.at(data_dir)
    from xcoder_assets.sandbox.backends import Limits
    from xcoder_assets.sandbox.runs import Program, run_key

    keys = [run_key(Program(p), i, Limits(), "strict") for p in programs for i in inputs]
    assert len(cache.get_many(keys)) == pairs
    cache.close()


def test_budget_reservations_hold_across_processes_on_postgres(cluster):
    url = fresh_database(cluster, f"b{time.time_ns()}")
    ResponseCache(url).close()
    context = Workers()
    results = context.Queue()
    workers = [context.process(reserve_many, (url, "run:x", results, w)) for w in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    granted = sum(results.get(timeout=10) for _ in workers)
    spent_usd, reserved = ResponseCache(url).committed("run:x")
    assert reserved == 0 and spent_usd <= 25.0
    assert granted > 25  # settled requests cost less than reserved, so more fit than 25 worst cases


def test_the_code_location_keeps_its_llm_cache_in_postgres_when_set(cluster, tmp_path, monkeypatch):
    """The resources (the caches' consumer) follow XCODER_CACHE_URL: answers, usage and a rerun's hits all
    in Postgres, no cache file in the data directory; `xcoder status`'s totals read them from there."""
    from xcoder_assets_tests.batches import materialize_location

    url = fresh_database(cluster, f"d{time.time_ns()}")
    monkeypatch.setenv("XCODER_CACHE_URL", url)
    seeds = {"ops": {"seed_problems": {"config": {"limit": 3}}}}
    assert materialize_location(tmp_path, ["seed_problems"], run_config=seeds).success
    assert materialize_location(tmp_path, ["features"]).success
    answers = count_responses(url)
    assert answers > 0 and not list(tmp_path.rglob("llm_cache.sqlite*"))
    assert materialize_location(tmp_path, ["features"]).success  # a rerun: every answer from Postgres
    assert count_responses(url) == answers
    con = warehouse.connect(tmp_path, views=False, lineage=False)
    totals = warehouse.llm_totals(con)
    con.close()
    assert totals["runs"] == 2 and totals["sent_to_model"] == answers and totals["cache_hits"] == answers


def test_the_estimate_spending_and_pending_batches_read_the_cache_in_postgres_when_set(
    cluster, tmp_path, monkeypatch, capsys
):
    """The readers that open the cache read-only (xcoder estimate, the spending behind xcoder status, the
    provider batches sensor's pending batches) follow XCODER_CACHE_URL as the writers do."""
    from xcoder_assets.cli import main as xcoder
    from xcoder_assets.llm.batches import pending_batches
    from xcoder_assets_tests.batches import materialize_location

    monkeypatch.setenv("XCODER_CACHE_URL", fresh_database(cluster, f"e{time.time_ns()}"))
    for limit in (3, 5):  # three answered, then two more seeds
        assert materialize_location(
            tmp_path, ["seed_problems"], run_config={"ops": {"seed_problems": {"config": {"limit": limit}}}}
        ).success
        if limit == 3:
            assert materialize_location(tmp_path, ["features"]).success
    capsys.readouterr()
    assert xcoder(["--data-dir", str(tmp_path), "estimate", "--select", "features"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("features "))
    assert row.split()[4:6] == ["2", "3"], out  # requests to send, cached
    assert "history (3 answers of extract_features@v1" in out and "no response cache" not in out
    assert [s.requests for s in spent(tmp_path)] == [3]
    assert pending_batches(tmp_path) == []
    assert not list(tmp_path.rglob("llm_cache.sqlite*"))
