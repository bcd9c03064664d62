"""A dropped Postgres connection (store/sqlstore.py): the cache's backend is killed from another connection
(`pg_terminate_backend`) on a private cluster, between statements, inside a transaction, at its COMMIT and
in the middle of a gateway run against the fake server. The next statement reopens the connection once and
runs again where that is safe (reads, idempotent writes, a transaction the server rolled back); a COMMIT of
usage rows whose outcome is unknown fails with one message, and nothing is written twice."""

from __future__ import annotations

import threading
import time

import pytest

from xcoder_assets.llm.cache import ResponseCache
from xcoder_assets.sandbox.runs import RunCache
from xcoder_assets.simulator import fake_server
from xcoder_assets.store.sqlstore import CacheConnectionLost, count_responses
from xcoder_assets_tests.postgres_cluster import fresh_database, postgres_cluster

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def cluster():
    with postgres_cluster() as url:
        yield url


@pytest.fixture
def url(cluster):
    return fresh_database(cluster, f"r{time.time_ns()}")


def backend_pid(store) -> int:
    with store._con.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        return int(cur.fetchone()[0])


def terminate(url: str, pids: list[int] | None = None) -> int:
    """Kill backends of this test's database from another connection (all but the killer's when `pids` is None)."""
    import psycopg2

    con = psycopg2.connect(url)
    con.autocommit = True
    try:
        with con.cursor() as cur:
            if pids is None:
                cur.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            else:
                cur.execute("SELECT count(pg_terminate_backend(pid)) FROM unnest(%s::int[]) AS pid", (pids,))
            killed = int(cur.fetchone()[0])
        deadline = time.monotonic() + 10
        while pids and time.monotonic() < deadline:  # gone from the server, so the next statement sees the drop
            with con.cursor() as cur:
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,))
                if cur.fetchone()[0] == 0:
                    break
            time.sleep(0.02)
        return killed
    finally:
        con.close()


def usage_rows(url: str) -> int:
    import psycopg2

    con = psycopg2.connect(url)
    try:
        with con.cursor() as cur:
            cur.execute("SELECT count(*) FROM usage")
            return int(cur.fetchone()[0])
    finally:
        con.close()


def usage_row(i: int) -> tuple:
    return (time.time(), "run", "asset", "extract", "m", f"k{i}", 0, None, 1, 10, 5, 0.0)


def test_reads_and_idempotent_writes_reopen_the_connection_once(url):
    cache = ResponseCache(url)
    try:
        cache.put("k1", "m", "t@v1", {"q": 1}, {"content": "a"})
        assert terminate(url, [backend_pid(cache.store)]) == 1
        assert cache.get_many(["k1"]) == {"k1": {"content": "a"}}  # a read: reopened, run again
        assert cache.store.reconnects == 1
        terminate(url, [backend_pid(cache.store)])
        cache.put("k2", "m", "t@v1", {"q": 2}, {"content": "b"})  # an upsert and the claim's end: a transaction
        terminate(url, [backend_pid(cache.store)])
        cache.finish_batch("nope", "completed", None)  # an UPDATE: idempotent
        assert cache.store.reconnects == 3
        assert cache.get_many(["k1", "k2"]) == {"k1": {"content": "a"}, "k2": {"content": "b"}}
        claimed = cache.store.claim("llm", ["x1", "x2"], cache.get_many)
        terminate(url, [backend_pid(cache.store)])
        cache.store.release("llm", ["x1"])  # a DELETE after the drop: the claim is a row, it outlived the session
        other = ResponseCache(url, owner="other")
        assert claimed.mine == {"x1", "x2"} and other.store.claim("llm", ["x1", "x2"], other.get_many).mine == {"x1"}
        other.close()
    finally:
        cache.close()
    assert count_responses(url) == 2


def test_a_transaction_cut_short_before_its_commit_is_replayed(url):
    runs = RunCache(url)
    store = runs._store
    try:
        with store.transaction():
            store.execute("run_put", ("r1", '{"stdout": "1"}', time.time()))
            terminate(url, [backend_pid(store)])  # the server rolls the open transaction back
            store.execute("run_put", ("r2", '{"stdout": "2"}', time.time()))
        assert store.reconnects == 1
        assert runs.get_many(["r1", "r2"]) == {"r1": {"stdout": "1"}, "r2": {"stdout": "2"}}
    finally:
        runs.close()
    cache = ResponseCache(url)
    store = cache.store
    try:
        with store.transaction():  # usage rows too: before COMMIT the server holds none of them
            store.execute("usage_insert", usage_row(1))
            terminate(url, [backend_pid(store)])
            store.execute("usage_insert", usage_row(2))
        assert usage_rows(url) == 2 and store.reconnects == 1
    finally:
        cache.close()


def test_a_commit_whose_outcome_is_unknown_is_retried_only_when_idempotent(url):
    cache = ResponseCache(url)
    store = cache.store
    try:
        with store.transaction():  # an answer: committing it twice is the same answer
            store.execute("response_put", ("k1", "m", "t@v1", "{}", '{"content": "a"}', time.time()))
            terminate(url, [backend_pid(store)])
        assert cache.get_many(["k1"]) == {"k1": {"content": "a"}} and store.reconnects == 1
        with pytest.raises(CacheConnectionLost) as lost:  # usage rows: maybe stored, so not written again
            with store.transaction():
                store.execute("usage_insert", usage_row(1))
                terminate(url, [backend_pid(store)])
        message = str(lost.value)
        assert "XCODER_CACHE_URL" in message and "while committing usage_insert" in message
        assert "not written twice" in message and "rerun" in message
        assert ":***@" in message and url.split(":")[2].split("@")[0] not in message  # no password
        assert usage_rows(url) == 0  # the server had not committed it, and the store did not write it again
        cache.log_usage([usage_row(2)])  # the store goes on: the next statement reopens the connection
        assert usage_rows(url) == 1
    finally:
        cache.close()


def test_a_replayed_transaction_that_would_read_something_else_is_not_replayed(url):
    cache = ResponseCache(url)
    other = ResponseCache(url, owner="other")
    store = cache.store
    try:
        assert cache.reserve("r1", 4.0, {"run:x": 10.0})[0]
        with pytest.raises(CacheConnectionLost, match="reservation_committed read something else"):
            with store.transaction("begin_reserve"):
                assert store.rows("reservation_committed", ("run:x",))[0][0] == 4.0
                terminate(url, [backend_pid(store)])  # meanwhile another process reserves
                assert other.reserve("r2", 5.0, {"run:x": 10.0})[0]
                store.execute("reservation_insert", ("r3", "run:x", 5.0, time.time()))
        assert other.committed("run:x") == (0.0, 9.0)  # r3 is not there: the budget holds
    finally:
        other.close()
        cache.close()


def test_a_gateway_run_goes_on_when_its_connection_is_killed_midway(url, monkeypatch):
    from xcoder_assets.llm.gateway import GatewayConfig, LLMGateway, LLMRequest
    from xcoder_assets.llm.settings import GenerationParams, RoleSettings

    n = 24
    with fake_server.running(latency_s=0.3) as server:
        settings = RoleSettings(
            "extract", "openai/fake-model", GenerationParams(0.7, 0.95, 64), api_base=server, api_key="sk-test"
        )
        cache = ResponseCache(url)
        gateway = LLMGateway(
            {"extract": settings}, cache, GatewayConfig(max_in_flight=4, max_retries=1), run_id="r", asset="a"
        )
        requests = [LLMRequest.of("extract", [{"role": "user", "content": f"drop {i}"}], "t@v1") for i in range(n)]
        killed: list[int] = []
        killer = threading.Timer(0.8, lambda: killed.append(terminate(url)))  # while the first answers arrive
        killer.start()
        try:
            results = gateway.complete(requests)
        finally:
            killer.join()
            reconnects = cache.store.reconnects
            cache.close()
        import json
        import urllib.request

        with urllib.request.urlopen(server.removesuffix("/v1") + "/stats", timeout=10) as response:
            served = json.loads(response.read())["requests"]
    assert killed and killed[0] >= 1 and reconnects >= 1
    assert all(r.ok for r in results) and served == n  # nothing failed, nothing was sent twice
    assert count_responses(url) == n and usage_rows(url) == n
