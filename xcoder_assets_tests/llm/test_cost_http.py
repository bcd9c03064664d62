"""What a run costs, over real HTTP against a local fake server that bills at a known price: the estimate
of the features stage against what it then spends, and a budget that stops it and lets a rerun finish."""

from __future__ import annotations

import re

import pytest

from xcoder_assets.cli import main as xcoder
from xcoder_assets.defs.resources import build_resources
from xcoder_assets.llm.budget import BudgetExceeded, BudgetLimit, budget_limits
from xcoder_assets.llm.cache import ResponseCache
from xcoder_assets.llm.gateway import GatewayConfig, LLMGateway, LLMRequest
from xcoder_assets.llm.limits import LLMConfigError
from xcoder_assets.llm.pricing import parse_price
from xcoder_assets.llm.settings import GenerationParams, RoleSettings, role_settings
from xcoder_assets.llm.spending import spent, spent_total
from xcoder_assets.simulator import fake_server
from xcoder_assets_tests.llm.reserve_worker import reserve_many
from xcoder_assets_tests.processes import Workers
from xcoder_assets_tests.llm.cost_helpers import (
    SIM_MODEL,
    failure_message,
    llm_resource,
    materialize,
    seeds,
    server_stats,
)

pytestmark = pytest.mark.timeout(1200)

# USD per million tokens. Prompts dominate, so a request's worst case (its prompt plus max_tokens 4096)
# is close to what it really costs and a fifth of the estimate lets some requests through.
PRICE_IN, PRICE_OUT = 100.0, 1.0
PRICE = f"{PRICE_IN:g},{PRICE_OUT:g}"


def estimated(capsys, monkeypatch, data_dir, url) -> tuple[float, int, str]:
    monkeypatch.setenv("XCODER_MODEL_EXTRACT", SIM_MODEL)
    monkeypatch.setenv("XCODER_API_BASE_EXTRACT", url)
    monkeypatch.setenv("XCODER_API_KEY_EXTRACT", "sk-test")
    monkeypatch.setenv("XCODER_PRICE_EXTRACT", PRICE)
    capsys.readouterr()
    assert xcoder(["--data-dir", str(data_dir), "estimate", "--select", "features"]) == 0
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    match = re.fullmatch(r"estimated cost: \$([\d,.]+) \(requests ([\d,]+), tokens ([\d,]+)\)", last)
    assert match, out
    return float(match.group(1).replace(",", "")), int(match.group(2).replace(",", "")), out


def test_estimate_is_within_a_quarter_of_the_spending_and_a_budget_stops_the_run(tmp_path, capsys, monkeypatch):
    data_dir = tmp_path / "data"
    with fake_server.running(price_in=PRICE_IN, price_out=PRICE_OUT) as url:
        # History: an earlier run over the first 6 seeds (the estimate's completion tokens come from it).
        seeds(data_dir, 6)
        materialize(data_dir, ["features"], llm=llm_resource(url, extract_price=PRICE))
        seeds(data_dir, 26)
        usd, requests, out = estimated(capsys, monkeypatch, data_dir, url)
        assert requests == 20  # 26 seeds, 6 answered already
        row = next(line for line in out.splitlines() if line.startswith("features "))
        assert row.split()[4:6] == ["20", "6"], row  # requests, cached
        assert "history (6 answers of extract_features@v1 by openai/synthsmith-sim-1)" in out

        before = server_stats(url)
        budget = usd / 5
        stopped = materialize(
            data_dir, ["features"], llm=llm_resource(url, extract_price=PRICE, budget_usd=budget), raise_on_error=False
        )
        assert not stopped.success
        message = failure_message(stopped)
        assert message.startswith("features: LLM budget reached: the run budget is $")
        assert "request(s) not sent" in message and "XCODER_BUDGET_USD" in message, message
        middle = server_stats(url)
        sent_first = middle["requests"] - before["requests"]
        assert 0 < sent_first < 20, message
        billed_first = middle["billed_usd"] - before["billed_usd"]
        assert billed_first <= budget + 1e-9
        assert spent_total(data_dir, [stopped.run_id]) == pytest.approx(billed_first)
        assert f"{20 - sent_first} request(s) not sent" in message

        finished = materialize(data_dir, ["features"], llm=llm_resource(url, extract_price=PRICE, budget_usd=usd * 10))
        assert finished.success
        after = server_stats(url)
        assert after["requests"] - before["requests"] == 20  # each request sent once, over both runs
        assert after["distinct_prompts"] - before["distinct_prompts"] == 20
        spending = after["billed_usd"] - before["billed_usd"]
        assert spent_total(data_dir, [stopped.run_id, finished.run_id]) == pytest.approx(spending)
        with capsys.disabled():  # the figures, for the report (pytest -s)
            print(
                f"estimate ${usd:.4f}, spent ${spending:.4f}, budget ${budget:.4f}: first run sent {sent_first} of 20"
            )
        assert abs(spending - usd) <= 0.25 * usd, (spending, usd)
        # Nothing left: a new estimate sends nothing.
        again, left, _ = estimated(capsys, monkeypatch, data_dir, url)
        assert (again, left) == (0.0, 0)
        by_run = {row.run_id: row for row in spent(data_dir)}
        assert by_run[finished.run_id].asset == "features" and by_run[finished.run_id].role == "extract"


def test_a_budget_below_one_request_sends_nothing_and_says_so(fake_llm_url, tmp_path):
    settings = RoleSettings(
        "extract",
        "openai/fake-model",
        GenerationParams(0.7, 0.95, 256),
        api_base=fake_llm_url,
        api_key="sk",
        price_override=parse_price("1000,1000", "XCODER_PRICE_EXTRACT"),
    )
    config = GatewayConfig(budgets=tuple(budget_limits("r1", run_usd=0.01)), max_retries=0)
    gateway = LLMGateway({"extract": settings}, ResponseCache(tmp_path / "c.sqlite"), config, run_id="r1", asset="a")
    with pytest.raises(BudgetExceeded) as caught:
        gateway.complete([LLMRequest.of("extract", [{"role": "user", "content": f"q{i}"}], "t@v1") for i in range(3)])
    assert "the run budget is $0.0100 and $0.0000 is spent; 3 request(s) not sent" in str(caught.value)
    assert gateway.stats.llm_calls == 0


def test_a_budget_on_a_model_without_a_price_is_refused(tmp_path):
    settings = RoleSettings(
        "extract", "openai/no-such-priced-model", GenerationParams(0.7, 0.95, 256), api_base="http://x"
    )
    config = GatewayConfig(budgets=(BudgetLimit("run:r", 1.0, "run", "XCODER_BUDGET_USD"),))
    with pytest.raises(LLMConfigError, match="XCODER_PRICE_EXTRACT"):
        LLMGateway({"extract": settings}, ResponseCache(tmp_path / "c.sqlite"), config)


def test_reservations_are_shared_by_processes_and_never_pass_the_budget(tmp_path):
    """A run's assets run in several processes: the budget is one, in the cache database."""
    path = tmp_path / "c.sqlite"
    ResponseCache(path).close()
    context = Workers()
    results = context.Queue()
    workers = [context.process(reserve_many, (path, "run:x", results, w)) for w in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    granted = sum(results.get(timeout=10) for _ in workers)
    spent_usd, reserved = ResponseCache(path).committed("run:x")
    assert reserved == 0 and spent_usd <= 25.0
    assert granted > 25  # settled requests cost less than reserved, so more fit than 25 worst cases


def test_budget_and_prices_come_from_the_environment():
    env = {"XCODER_BUDGET_USD": "12.5", "XCODER_PRICE_SOLVE": "0.55,2.19", "XCODER_BUDGET_USD_PER_DAY": "100"}
    resource = build_resources(env)["llm"]
    assert resource.budget_usd == 12.5 and resource.budget_usd_per_day == 100.0
    with pytest.raises(ValueError, match="XCODER_BUDGET_USD must be a number of USD, got 'lots'"):
        build_resources({"XCODER_BUDGET_USD": "lots"})
    price = role_settings("solve", "openai/m", price="0.55,2.19").price()
    assert price.input == pytest.approx(0.55e-6) and price.batch_output == pytest.approx(2.19e-6)
    with pytest.raises(LLMConfigError, match=r"XCODER_PRICE_SOLVE='cheap': expected IN,OUT"):
        role_settings("solve", "openai/m", price="cheap")
    listed = role_settings("solve", "openai/gpt-4o").price()
    assert listed.source == "litellm price map" and listed.batch_input == pytest.approx(listed.input / 2)


def test_day_and_batch_budgets_are_their_own_scopes(tmp_path):
    limits = budget_limits("r1", run_usd=5, day_usd=50, batch_usd=20, batch_key="b7", now=0.0)
    assert [(b.scope, b.limit_usd, b.label) for b in limits] == [
        ("run:r1", 5, "run"),
        ("day:1970-01-01", 50, "day 1970-01-01 (UTC)"),
        ("batch:b7", 20, "generation batch b7"),
    ]
    assert budget_limits("r1", batch_usd=20) == []  # no generation batch: no batch budget
    with pytest.raises(LLMConfigError, match="the LLM day budget must be a non-negative number"):
        budget_limits("r1", day_usd=-1)
    cache = ResponseCache(tmp_path / "llm_cache.sqlite")
    scopes = {b.scope: b.limit_usd for b in limits}
    assert cache.reserve("a", 5.0, scopes)[0]
    assert not cache.reserve("b", 0.5, scopes)[0]  # the run's 5 are taken
    assert cache.reserve("c", 0.5, {"day:1970-01-01": 50, "batch:b7": 20})[0]  # another run, same day and batch
    assert cache.committed("day:1970-01-01") == (0.0, 5.5)
    assert spent(tmp_path) == [] and spent(tmp_path / "nowhere") == []  # reservations are not spending
