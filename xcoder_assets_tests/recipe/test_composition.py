"""The problems stage's recipe function: it works a chunk of configurations at a time (the dedup spans the batch),
and asks again for an answer that fails validation (each attempt a distinct request, its seed the attempt's)."""

from collections import Counter, defaultdict
from dataclasses import replace

import pytest

from xcoder_assets.llm.gateway import LLMRequest, LLMResult
from xcoder_assets.recipe import composition
from xcoder_assets.recipe.prompts import load_template
from xcoder_assets.recipe.sampling import PoolItem, config_rows, sample_configs
from xcoder_assets.simulator.distinct import simulated_ask, synthetic_pool
from xcoder_assets.store.streaming import chunks
from xcoder_assets.store.tables import PROBLEMS
from xcoder_assets_tests.recipe.test_stages import SimulatedLLM, _tree

TEMPLATES = (load_template("compose_scenario"), load_template("compose_problem"))
POOL = synthetic_pool()
SCENARIO, STATEMENT = (t.id for t in TEMPLATES)


def _configs(count: int, seed: int = 42) -> list[dict]:
    """feature_configs rows as the stage reads them (id and offered pool ids), sampled as feature_configs samples."""
    rows = config_rows(sample_configs(POOL, count, seed=seed), seed, "r")
    return [{"config_id": r["config_id"], "feature_ids": r["feature_ids"]} for r in rows]


class Recording:
    """An `ask` that answers with `answer` (the simulator by default) and keeps every request it was given."""

    def __init__(self, answer=simulated_ask) -> None:
        self.answer, self.requests, self.results = answer, [], []

    def __call__(self, requests: list[LLMRequest], meter) -> list[LLMResult]:
        results = self.answer(requests)
        self.requests += requests
        self.results += results
        return results


def _compose(configs, ask, size=256, settings=None, log=print):
    written_rows, written_results = [], []

    def write(rows, results):
        written_rows.extend(rows)
        written_results.extend(results)

    tally = composition.compose_problems(
        chunks(configs, size),
        len(configs),
        POOL,
        settings or composition.CompositionSettings(),
        TEMPLATES,
        "m",
        PROBLEMS.schema.names(),
        "run",
        ask,
        write,
        log,
    )
    return written_rows, written_results, tally


def test_compose_problems_asks_scenarios_then_statements_and_marks_every_config():
    items = [PoolItem(f"pool-{i:016x}", r["category"], tuple(r["path"]), r["feature"]) for i, r in enumerate(_tree())]
    rows = [
        {"config_id": f"fcfg-{k:016x}", "feature_ids": [items[(k + j) % len(items)].entry_id for j in range(3)]}
        for k in range(6)
    ]
    llm, settings, written = SimulatedLLM(), composition.CompositionSettings(), []
    tally = composition.compose_problems(
        chunks(rows, 4),
        len(rows),
        items,
        settings,
        TEMPLATES,
        "m",
        PROBLEMS.schema.names(),
        "run",
        llm.ask,
        lambda problems, results: written.append((problems, results)),
        print,
    )
    assert [len(problems) for problems, _ in written] == [4, 2]  # written a chunk at a time
    problems = [row for chunk, _ in written for row in chunk]
    results = [result for _, chunk in written for result in chunk]
    assert set(llm.meters) == {"problems: scenario calls", "problems: statement calls"}
    assert [r["config_id"] for r in problems] == [r["config_id"] for r in rows]
    assert len([r for r in results if r.template == SCENARIO]) >= len(rows) and len(results) == len(llm.asked)
    for row in problems:
        assert row["style"] == composition.draw_style(settings.style_probabilities, settings.seed, row["config_id"])
        assert row["status"] in ("ok", "leak", "duplicate", "parse_error", "truncated", "llm_error")
        assert set(row) == set(PROBLEMS.schema.names())
    assert any(r["status"] == "ok" for r in problems)
    assert tally.configs == 6 and sum(tally.status.values()) == 6 and tally.llm.requests == len(results)


def test_a_chunk_of_three_gives_the_same_table_as_one_chunk_of_everything():
    configs = _configs(40)
    one = _compose(configs, Recording(), size=len(configs))
    threes = _compose(configs, Recording(), size=3)
    assert threes[0] == one[0]  # the same rows (dedup over the whole batch), in configuration order
    assert Counter(r.call_id for r in threes[1]) == Counter(r.call_id for r in one[1])
    for field in ("status", "composed_styles", "kept_styles", "features_used", "attempts", "reasked"):
        assert getattr(threes[2], field) == getattr(one[2], field), field
    assert threes[2].first_kept == one[2].first_kept and threes[2].kept.first == one[2].kept.first
    # a configuration offered twice in the batch: the second is a duplicate even in another chunk
    kept = next(c for c, r in zip(configs, one[0]) if r["status"] == "ok")
    rows = _compose([kept, *configs[-4:], kept], Recording(), size=3)[0]
    assert rows[0]["status"] == "ok" and rows[5]["status"] == "duplicate"
    assert rows[5]["duplicate_of"] == rows[0]["problem_id"] and rows[5]["attempts"] == rows[0]["attempts"]


def _failed(result: LLMResult, parse) -> bool:
    return isinstance(composition.parse_answer(result, parse), composition.Failure)


def test_only_answers_that_fail_validation_are_asked_again_with_the_next_attempts_seed():
    configs = _configs(200)
    ask = Recording()
    rows, results, tally = _compose(configs, ask, size=64)
    by_id = {i.entry_id: i for i in POOL}
    asked: dict[tuple[str, str], list[tuple[LLMRequest, LLMResult]]] = defaultdict(list)
    for request, result in zip(ask.requests, ask.results):
        asked[(request.tag, request.template)].append((request, result))
    assert sum(r["attempts"] for r in rows) == len(results) == len(ask.requests)  # every attempt is in llm_calls
    reasked = Counter()
    for row in rows:
        cid, style = row["config_id"], row["style"]
        offered = composition.offered_features(next(c for c in configs if c["config_id"] == cid)["feature_ids"], by_id)
        scenario_asks, statement_asks = asked[(cid, SCENARIO)], asked[(cid, STATEMENT)]
        assert row["attempts"] == len(scenario_asks) + len(statement_asks)
        for attempts in (scenario_asks, statement_asks):
            # attempt 1 is the plain request, attempt k has seed k: distinct requests, the same prompt
            assert [r.seed for r, _ in attempts] == [None, 2, 3][: len(attempts)]
            assert len({repr(r.messages) for r, _ in attempts}) <= 1 and len(attempts) <= 3
        assert row["scenario_call_id"] == scenario_asks[-1][1].call_id
        scenario_parse = lambda t: composition.parse_scenario(t, [f.name for f in offered])  # noqa: E731
        # every attempt but the last failed validation; the last one did too only when attempts ran out
        for _, result in scenario_asks[:-1]:
            assert _failed(result, scenario_parse)
            reasked["scenario"] += 1
        last_scenario_failed = _failed(scenario_asks[-1][1], scenario_parse)
        assert last_scenario_failed == (row["status"] in ("parse_error", "truncated") and not statement_asks)
        if not statement_asks:
            continue
        assert row["statement_call_id"] == statement_asks[-1][1].call_id
        scenario = composition.parse_answer(scenario_asks[-1][1], scenario_parse)
        used = [(by_id[i].category, by_id[i].feature) for i in composition.used_feature_ids(scenario, offered)]

        def usable(result: LLMResult) -> bool:
            statement = composition.parse_answer(result, lambda t: composition.parse_statement(t, style))
            return isinstance(statement, composition.Statement) and not composition.leaked_terms(
                statement.statement, used
            )

        for _, result in statement_asks[:-1]:
            assert not usable(result)
            reasked["statement"] += 1
        assert usable(statement_asks[-1][1]) == (row["status"] in ("ok", "duplicate"))
        if row["status"] in ("leak", "parse_error", "truncated") and len(statement_asks) == 3:
            assert row["error"].endswith("(after 3 attempts)")
    assert reasked == tally.reasked and reasked["scenario"] > 0 and reasked["statement"] > 0
    assert tally.status["ok"] >= 0.95 * len(configs)


def test_llm_errors_are_not_asked_again_and_attempts_stop_at_max_attempts():
    configs = _configs(6)
    never, broken = configs[0]["config_id"], configs[1]["config_id"]

    def answer(requests):
        results = simulated_ask(requests)
        for request, result in zip(requests, results):
            if request.tag == never:  # prose, never JSON
                result.content = "I would rather talk about the weather."
            if request.tag == broken:  # the gateway gave up on it (after its own retries)
                result.content, result.error = "", "RateLimitError: too many requests"
        return results

    ask = Recording(answer)
    rows = {r["config_id"]: r for r in _compose(configs, ask, settings=composition.CompositionSettings())[0]}
    assert [r.seed for r in ask.requests if r.tag == never] == [None, 2, 3]
    assert rows[never]["status"] == "parse_error" and rows[never]["attempts"] == 3
    assert rows[never]["error"].startswith("scenario: ") and rows[never]["error"].endswith("(after 3 attempts)")
    assert [r.seed for r in ask.requests if r.tag == broken] == [None]
    assert rows[broken]["status"] == "llm_error" and rows[broken]["attempts"] == 1
    assert "attempts" not in rows[broken]["error"]
    # twice as many attempts: asked five times
    ask = Recording(answer)
    rows = {
        r["config_id"]: r for r in _compose(configs, ask, settings=composition.CompositionSettings(max_attempts=5))[0]
    }
    assert [r.seed for r in ask.requests if r.tag == never] == [None, 2, 3, 4, 5]
    assert rows[never]["error"].endswith("(after 5 attempts)")


def test_a_rerun_asks_exactly_the_same_requests_so_the_cache_answers_all_of_them():
    configs = _configs(60)
    first, again = Recording(), Recording()
    rows_first = _compose(configs, first, size=7)[0]
    rows_again = _compose(configs, again, size=7)[0]
    key = lambda r: (r.template, repr(r.messages), r.seed)  # noqa: E731  (what the gateway's cache key is made of)
    assert [key(r) for r in again.requests] == [key(r) for r in first.requests]
    assert rows_again == rows_first


def test_max_attempts_1_asks_each_step_once_as_before_re_asks():
    configs = _configs(200)
    ask = Recording()
    rows, results, tally = _compose(configs, ask, settings=composition.CompositionSettings(max_attempts=1))
    assert {r.seed for r in ask.requests} == {None}  # the requests (and cache keys) of before
    scenarios = [r for r in ask.requests if r.template == SCENARIO]
    assert len(scenarios) == len(configs) == len({r.tag for r in scenarios})
    assert len(ask.requests) == len(configs) + sum(r["scenario"] is not None for r in rows)
    assert not any("attempts" in (r["error"] or "") for r in rows) and tally.reasked == Counter()
    # the simulator's documented imperfections stay: ~5% + ~5% prose, ~3% cut off, ~12% leaks
    assert {"parse_error", "leak"} <= set(tally.status) and tally.status["ok"] < 0.9 * len(configs)


def test_at_least_95_percent_of_1000_configurations_are_kept_on_the_simulator():
    configs = _configs(1000, seed=3)
    rows, results, tally = _compose(configs, simulated_ask)
    assert tally.configs == 1000 and tally.status["ok"] >= 950, tally.status
    # re-asks cost: about 2.3 requests per configuration (1 + 0.05 scenarios, 1 + 0.2 + 0.04 statements)
    assert len(results) < 2.5 * len(configs)


def test_bad_settings_are_refused_before_any_request():
    ask = Recording()
    for settings, message in (
        (composition.CompositionSettings(style_probabilities={"icpc": 1.0}), "unknown styles"),
        (replace(composition.CompositionSettings(), max_attempts=0), "max_attempts must be a whole number"),
    ):
        with pytest.raises(ValueError, match=message):
            _compose(_configs(3), ask, settings=settings)
    assert ask.requests == []
