"""The estimate's plans: the requests they build are the ones the assets send (same cache keys), the
templates are the assets' own, and bad input gets one clear message."""

from __future__ import annotations

import re

import pytest

from xcoder_assets.cli import main as xcoder
from xcoder_assets.defs import features as features_defs
from xcoder_assets.defs import synthesis as synthesis_defs
from xcoder_assets.defs import verification as verification_defs
from xcoder_assets.recipe import estimate as cost
from xcoder_assets.llm.settings import role_settings
from xcoder_assets_tests.llm.cost_helpers import materialize, seeds

pytestmark = pytest.mark.timeout(1500)


def test_the_plans_use_the_assets_templates():
    assert cost.EXTRACT_TEMPLATE == features_defs.EXTRACT_TEMPLATE
    assert cost.EVOLVE_TEMPLATE == synthesis_defs.EVOLVE_TEMPLATE
    assert cost.SCENARIO_TEMPLATE == synthesis_defs.SCENARIO_TEMPLATE
    assert cost.STATEMENT_TEMPLATE == synthesis_defs.STATEMENT_TEMPLATE
    assert cost.TESTS_TEMPLATE == verification_defs.TESTS_TEMPLATE
    assert cost.SOLVE_TEMPLATE == verification_defs.SOLVE_TEMPLATE


def test_token_figures_on_the_command_line_are_checked():
    assert cost.parse_token_figures(["solve=600,17700", "write_tests=,6000"]) == {
        "solve": (600.0, 17700.0),
        "write_tests": (None, 6000.0),
    }
    for bad in ("solve=many", "solve=1,2,3", "=1,2", "solve=-1,5"):
        with pytest.raises(ValueError, match=re.escape(f"--tokens {bad!r}: expected TEMPLATE=PROMPT,COMPLETION")):
            cost.parse_token_figures([bad])


def test_a_given_completion_keeps_the_prompts_whole_basis():
    """The 192k estimate's case: completions given, prompts from another model's history (whose basis holds a
    ';' inside its parentheses)."""
    planned = cost.Planned("candidate_solutions", "solve", "solve@v1", 10)
    settings = role_settings("solve", model="openai/gpt-5-mini")
    history = {("solve@v1", "xcoder-offline/synthsmith-sim-1"): (7912, 380.0, 300.0)}
    figures = cost.token_figures(planned, settings, history, {"solve": (None, 17700.0)})
    assert (figures.prompt, figures.completion) == (380.0, 17700.0)
    assert figures.basis == (
        "completions given on the command line (17700); prompts from the history of another model (7912 answers "
        "of solve@v1 by xcoder-offline/synthsmith-sim-1; none by openai/gpt-5-mini)"
    )


def test_upstream_sizes_without_inputs_and_no_cache_file_created(tmp_path):
    roles = {r: role_settings(r, "openai/gpt-4o") for r in ("compose", "solve", "test_write")}
    configs = {"feature_configs": {"count": 1000}, "candidate_solutions": {"candidates_per_problem": 8}}
    result = cost.estimate(tmp_path, ["problems", "test_inputs", "candidate_solutions"], configs, roles, "b1")
    assert [(r.template, r.requests, r.exact) for r in result.rows] == [
        ("compose_scenario@v1", 1000, False),
        ("compose_problem@v1", 1000, False),
        ("write_tests@v1", 1000, False),
        ("solve@v1", 8000, False),
    ]
    solve = result.rows[-1]
    assert solve.completion_tokens == 32768 and "an upper bound" in solve.tokens_basis
    price = roles["solve"].price()
    assert solve.usd == pytest.approx(8000 * (solve.prompt_tokens * price.input + 32768 * price.output))
    assert result.summary() == f"estimated cost: ${result.usd:,.2f} (requests 11,000, tokens {result.tokens:,})"
    assert not (tmp_path / "llm_cache.sqlite").exists()


def test_exact_plans_build_the_requests_the_stage_sends(tmp_path, capsys):
    """Offline: after candidate_solutions ran, its estimate has nothing left to send, every request cached."""
    data_dir = tmp_path / "data"
    seeds(data_dir, 8)
    upstream_config = {"ops": {"evolved_pool": {"config": {"rounds": 2}}, "feature_configs": {"config": {"count": 4}}}}
    upstream = ["features", "feature_tree", "evolved_pool", "feature_configs", "problems"]
    materialize(data_dir, upstream, run_config=upstream_config)

    def estimate_line(config_file):
        capsys.readouterr()
        command = ["--data-dir", str(data_dir), "estimate", "--select", "candidate_solutions", "--config", config_file]
        assert xcoder(command) == 0
        out = capsys.readouterr().out
        row = next(line for line in out.splitlines() if line.startswith("candidate_solutions "))
        return row.split()[4:6], out

    config_file = tmp_path / "run.yaml"
    config_file.write_text("ops:\n  candidate_solutions:\n    config:\n      candidates_per_problem: 2\n")
    (before, cached_before), out = estimate_line(str(config_file))
    assert cached_before == "0" and int(before.replace(",", "")) > 0, out
    assert "(exact)" in out
    candidates_config = {"ops": {"candidate_solutions": {"config": {"candidates_per_problem": 2}}}}
    materialize(data_dir, ["candidate_solutions"], run_config=candidates_config)
    (after, cached_after), out = estimate_line(str(config_file))
    assert (after, cached_after) == ("0", before), out
    assert out.strip().endswith("estimated cost: $0.00 (requests 0, tokens 0)")


def test_problems_count_re_asks_from_the_history_of_earlier_batches(tmp_path):
    """A statement is asked only for a parsed scenario, and an answer that fails validation is asked again:
    the history's requests per configuration (here 11 scenario and 12 statement calls for 10 configurations)
    scale the new batch's configurations; without history the row says re-asks are not counted."""
    import polars as pl

    from xcoder_assets.store.tables import FEATURE_CONFIGS, batch_dir, llm_calls_path

    roles = {"compose": role_settings("compose", "openai/gpt-4o")}
    configs = {"feature_configs": {"count": 100}, "problems": {"max_attempts": 3}}
    first = cost.estimate(tmp_path, ["problems"], configs, roles, "b2")
    assert [r.requests for r in first.rows] == [100, 100]
    assert all(
        "re-asks of answers that fail validation (up to 3 asks each) are not counted" in r.basis for r in first.rows
    )

    earlier = batch_dir(tmp_path, "b1")
    FEATURE_CONFIGS.path(earlier).parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame({"config_id": [f"c{i}" for i in range(10)]}).write_parquet(FEATURE_CONFIGS.path(earlier))
    calls = llm_calls_path(earlier, "problems")
    calls.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame({"template": ["compose_scenario@v1"] * 11 + ["compose_problem@v1"] * 12}).write_parquet(calls)
    again = cost.estimate(tmp_path, ["problems"], configs, roles, "b2")
    assert [(r.template, r.requests) for r in again.rows] == [("compose_scenario@v1", 110), ("compose_problem@v1", 120)]
    assert (
        "1.100 scenario requests per configuration in this data directory's history (1 batch(es)" in again.rows[0].basis
    )
