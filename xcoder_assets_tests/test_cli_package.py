"""The `xcoder` command as a package: one parser over one module per command, the start-up of the lineage
commands free of the heavy libraries the other commands need, and flags whose defaults are the recipe's
settings types (never repeated in the CLI)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from xcoder_assets.cli import build_parser, main
from xcoder_assets.cli.common import given
from xcoder_assets_tests.conftest import PROJECT_ROOT

# What `xcoder status` and `xcoder trace` never need; each costs a second or more of start-up.
HEAVY = ("dagster", "litellm", "torch", "transformers", "datasketch", "numpy", "scipy", "pyarrow", "aiohttp")


def _modules_after(*argv: str) -> tuple[int, set[str], str]:
    """Run `xcoder ARGV` in a fresh interpreter; its exit status, the top-level modules it loaded, its stderr."""
    code = (
        "import json, sys\n"
        "from xcoder_assets.cli import main\n"
        "status = main(sys.argv[1:])\n"
        "print(json.dumps([status, sorted({m.split('.')[0] for m in sys.modules})]), file=sys.stderr)\n"
    )
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    env.pop("DAGSTER_HOME", None)
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=120
    )
    status, modules = json.loads(done.stderr.strip().splitlines()[-1])
    return status, set(modules), done.stderr


def test_building_the_parser_imports_no_heavy_library():
    code = (
        "import json, sys\n"
        "from xcoder_assets.cli import build_parser\n"
        "build_parser()\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60)
    loaded = set(json.loads(done.stdout))
    assert "xcoder_assets" in loaded and not loaded & {*HEAVY, "duckdb", "polars"}, loaded & {
        *HEAVY,
        "duckdb",
        "polars",
    }


def test_status_and_trace_start_without_the_heavy_libraries(tmp_path):
    status, modules, err = _modules_after("--data-dir", str(tmp_path), "status")
    assert status == 0 and "data directory:" not in err
    assert not modules & set(HEAVY), modules & set(HEAVY)
    status, modules, err = _modules_after("--data-dir", str(tmp_path), "trace", "ver-0123456789abcdef")
    assert status == 2 and "xcoder: error: unknown row id ver-0123456789abcdef" in err
    assert not modules & set(HEAVY), modules & set(HEAVY)


def test_every_command_is_registered_once_with_its_function():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # the sub-commands, in --help order
    assert list(commands) == [
        "materialize",
        "status",
        "trace",
        "sql",
        "bench",
        "judge",
        "vote",
        "eval",
        "decontaminate",
        "judge-server",
        "estimate",
        "fake-llm-server",
    ]
    for name, sub in commands.items():
        if name != "bench":
            assert sub.get_default("func").__name__ == "cmd_" + name.replace("-", "_").replace(
                "fake_llm_server", "fake_server"
            ), name


def test_eval_flags_left_out_are_the_recipe_settings():
    from xcoder_assets.cli.evaluate import GATEWAY_FLAGS, SCORING_FLAGS, _settings
    from xcoder_assets.llm.gateway import GatewayConfig
    from xcoder_assets.recipe.evaluation import ScoringSettings

    args = build_parser().parse_args(["eval", "--problems", "p.jsonl", "--out", "o"])
    assert given(args, SCORING_FLAGS) == {} and given(args, GATEWAY_FLAGS) == {}
    assert _settings(args) == ScoringSettings()
    args = build_parser().parse_args(
        ["eval", "--problems", "p", "--out", "o", "--n", "3", "--temperature", "0.2", "--max-in-flight", "5"]
    )
    assert _settings(args) == ScoringSettings(n=3, temperature=0.2)
    assert GatewayConfig(**given(args, GATEWAY_FLAGS)) == GatewayConfig(max_in_flight=5)


def test_help_shows_the_recipe_defaults(capsys):
    from xcoder_assets.llm.gateway import GatewayConfig
    from xcoder_assets.recipe.decontamination import DecontaminationSettings
    from xcoder_assets.recipe.evaluation import REAL_N, ScoringSettings

    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    scoring, gateway = ScoringSettings(), GatewayConfig()
    assert f"default {REAL_N}, the paper's avg@{REAL_N}" in text
    for flag, value in (
        ("--temperature TEMPERATURE", scoring.temperature),
        ("--top-p TOP_P", scoring.top_p),
        ("--max-tokens MAX_TOKENS", scoring.max_tokens),
        ("--max-retries MAX_RETRIES", gateway.max_retries),
    ):
        assert f"{flag} default {value}" in text, flag
    assert f"(default {gateway.max_in_flight})" in text and f"(default {gateway.request_timeout_s})" in text
    with pytest.raises(SystemExit):
        main(["decontaminate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"words per n-gram (default {DecontaminationSettings().ngram})" in text


def test_the_asset_config_defaults_to_the_same_settings():
    from xcoder_assets.defs.benchmark import BenchmarkConfig, TrainedModelScoresConfig
    from xcoder_assets.recipe.evaluation import ScoringSettings

    assert BenchmarkConfig().settings() == ScoringSettings() == TrainedModelScoresConfig().settings()
    assert BenchmarkConfig(n=3, seed=7).settings() == ScoringSettings(n=3, seed=7)


def test_python_dash_m_runs_the_package():
    done = subprocess.run(
        [sys.executable, "-m", "xcoder_assets.cli", "trace", "not-an-id"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=60,
    )
    assert done.returncode == 2 and done.stderr.startswith("xcoder: error: 'not-an-id' is not a row id")


def test_vote_flags_left_out_are_the_vote_settings():
    from xcoder_assets.cli.judge import VOTE_FLAGS
    from xcoder_assets.recipe.verification import VoteSettings

    args = build_parser().parse_args(["vote", "--problems", "p", "--generations", "g", "--out", "o"])
    assert given(args, VOTE_FLAGS) == {}
    args = build_parser().parse_args(
        ["vote", "--problems", "p", "--generations", "g", "--out", "o", "--holdout-share", "0.5"]
    )
    assert VoteSettings(**given(args, VOTE_FLAGS)) == VoteSettings(holdout_share=0.5)
