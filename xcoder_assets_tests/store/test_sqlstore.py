"""The caches' store (store/sqlstore.py) on its default, SQLite: claims keep one key with one process, end
with the answer, pass on when given back or when their process dies; the setting that picks Postgres says
clearly what is wrong with it. The same code against Postgres, with racing writers: test_shared_caches.py."""

import os
import signal

import pytest

from xcoder_assets.llm.cache import CACHE_FILE, ResponseCache
from xcoder_assets.sandbox.runs import RUN_CACHE_FILE, RunCache
from xcoder_assets.store.sqlstore import CacheConfigError, cache_location, sql_file
from xcoder_assets_tests.shared_cache_workers import claim_and_die
from xcoder_assets_tests.processes import Workers


def test_nothing_set_keeps_the_sqlite_files_in_the_data_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("XCODER_CACHE_URL", raising=False)
    assert cache_location(tmp_path, CACHE_FILE) == tmp_path / "llm_cache.sqlite"
    cache = ResponseCache.at(tmp_path)
    cache.put("k", "m", "t@v1", {"q": 1}, {"content": "a"})
    cache.close()
    runs = RunCache.at(tmp_path)
    runs.put("r", {"stdout": "1\n"})
    runs.close()
    assert sorted(p.name for p in tmp_path.glob("*.sqlite")) == [CACHE_FILE, RUN_CACHE_FILE]
    assert ResponseCache.at(tmp_path).get_many(["k"]) == {"k": {"content": "a"}}


def test_a_cache_url_that_is_not_postgres_or_not_reachable_is_one_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("XCODER_CACHE_URL", "mysql://u:secret@db/x")
    with pytest.raises(CacheConfigError, match=r"XCODER_CACHE_URL='db/x': not a postgresql:// URL") as bad:
        ResponseCache.at(tmp_path)
    assert "secret" not in str(bad.value)
    from xcoder_assets_tests.conftest import free_port

    monkeypatch.setenv("XCODER_CACHE_URL", f"postgresql://u:secret@127.0.0.1:{free_port()}/x")
    with pytest.raises(CacheConfigError, match=r"cannot connect to postgresql://u:\*\*\*@127\.0\.0\.1") as down:
        RunCache.at(tmp_path)
    assert "secret" not in str(down.value)
    monkeypatch.setenv("XCODER_CACHE_CLAIM_LEASE_S", "soon")
    monkeypatch.delenv("XCODER_CACHE_URL")
    with pytest.raises(CacheConfigError, match="XCODER_CACHE_CLAIM_LEASE_S='soon': must be a positive number"):
        RunCache.at(tmp_path)


def test_a_claimed_key_is_one_process_s_until_its_answer_is_stored(tmp_path):
    path = tmp_path / "runs.sqlite"
    first, second = RunCache(path, owner="first"), RunCache(path, owner="second")
    try:
        a = first.claim(["k1", "k2"])
        assert a.mine == {"k1", "k2"} and not a.elsewhere
        b = second.claim(["k2", "k3"])
        assert b.mine == {"k3"} and b.elsewhere == {"k2"} and not b.found
        first.put("k2", {"stdout": "two"})  # the answer and the end of the claim, in one transaction
        waited = second.wait_for(["k2"])
        assert waited.found == {"k2": {"stdout": "two"}} and not waited.mine
        first.release(["k1"])  # given back without an answer (abandoned): the next claimant runs it
        assert second.claim(["k1"]).mine == {"k1"}
        again = first.claim(["k2"])  # answered since this process's first look: not run again
        assert again.found == {"k2": {"stdout": "two"}} and not again.mine and not again.elsewhere
    finally:
        first.close()
        second.close()


def test_closing_a_cache_gives_back_its_claims(tmp_path):
    path = tmp_path / "llm.sqlite"
    first, second = ResponseCache(path, owner="first"), ResponseCache(path, owner="second")
    claims = first.claims(["a", "b"])
    assert claims.mine == {"a", "b"}
    assert second.claims(["a"]).elsewhere == {"a"}
    first.close()
    assert second.claims(["a", "b"]).mine == {"a", "b"}
    second.close()


@pytest.mark.e2e
def test_the_claims_of_a_killed_process_pass_to_another_after_their_lease(monkeypatch, tmp_path):
    monkeypatch.setenv("XCODER_CACHE_CLAIM_LEASE_S", "1")  # the child inherits it: its claims live 1 s unrenewed
    path = str(tmp_path / "runs.sqlite")
    context = Workers()
    ready = context.Queue()
    child = context.process(claim_and_die, (path, ["x", "y"], ready))
    child.start()
    try:
        assert ready.get(timeout=120) == ["x", "y"]
        survivor = RunCache(path)
        assert survivor.claim(["x", "y"]).elsewhere == {"x", "y"}  # alive: its heartbeat renews them
        os.kill(child.pid, signal.SIGKILL)
        child.join(30)
        taken = survivor.wait_for(["x", "y"])
        assert taken.mine == {"x", "y"} and not taken.found
        survivor.close()
    finally:
        if child.is_alive():
            child.kill()
            child.join(30)


def test_every_statement_has_its_file_in_both_dialects():
    for name in ("schema_llm", "schema_runs", "now", "begin_reserve", "claim", "response_put", "run_put"):
        for dialect in ("sqlite", "postgres"):
            assert sql_file(name, dialect).strip()
    assert "LOCK TABLE budget_reservations" in sql_file("begin_reserve", "postgres")
    assert sql_file("begin_reserve", "sqlite").strip().endswith("BEGIN IMMEDIATE")


def test_a_process_never_waits_for_its_own_claims(tmp_path):
    """A cache opened again in the same process (a retried step) holds what an earlier one claimed there."""
    path = tmp_path / "runs.sqlite"
    earlier = RunCache(path)
    assert earlier.claim(["k"]).mine == {"k"}
    again = RunCache(path)
    assert again.claim(["k"]).mine == {"k"}
    assert RunCache(path, owner="another process").claim(["k"]).elsewhere == {"k"}
    earlier.close()
    again.close()
