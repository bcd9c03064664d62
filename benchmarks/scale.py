"""Scale run of the per-problem chain on the offline simulator: does a stage's memory and time per
problem stay flat as one batch grows?

    .venv/bin/python benchmarks/scale.py --problems 250,2000 [--candidates 4] [--profile STAGE]
    .venv/bin/python benchmarks/scale.py --problems 250,2000 --dir DIR [--stages lcb_problems,training_shards]

For each size, a fresh data directory and Dagster instance: the seed and feature stages once (setup),
then feature_configs (that many configurations), problems, test_inputs, candidate_solutions (4
candidates per problem: the recipe's settings otherwise), verified_solutions, lcb_problems and
training_shards, each materialized in a process of its own (lib/stage_runner.py) so that its peak
RSS is its own (the kernel's figure for that child, from wait4); its seconds are the
materialization's, in that process (imports and start-up apart). Per stage it prints seconds,
seconds per problem, peak RSS, disk written per problem, and sandbox runs executed and taken from the
run cache; then, per stage, a memory model fitted over the sizes (fixed MB + MB per problem), and a
paper-scale projection (192k tasks, 8 candidates) from the measured unit costs of the largest size.

With --dir, each size's data directory and instance are kept under DIR/<size> (not a temporary
folder), with every stage's figures in DIR/<size>/results.json; --stages runs only those stages of the
chain on the kept directory (the earlier stages' figures come from results.json), so that the 2,000-
problem directory is built once (~35 min here) and a downstream stage re-measured on it in minutes (its
incremental state, FRESH, is removed first: the re-run does a first run's work); --stages '' only reports.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from lib.stage_runner import (  # noqa: E402
    Materialization,
    finish,
    load_average,
    materialization_metadata,
    run_child,
    timed,
)

SETUP = ["seed_problems", "features", "feature_tree", "evolved_pool"]
CHAIN = [
    "feature_configs",
    "problems",
    "test_inputs",
    "candidate_solutions",
    "verified_solutions",
    "lcb_problems",
    "training_shards",
]
BATCH = "scale"
# What makes a downstream stage's second run on a kept directory cheap (its incremental state): removed before
# the stage runs again, so that --stages measures the work of a first run.
FRESH = {
    "lcb_problems": ["lcb_problems_sources", "lcb_problems.parquet", "lcb_problems__rejects.parquet"],
    "training_shards": [
        "training_shards",
        "training_mixtures",
        "training_shards.parquet",
        "training_shards__rl.parquet",
    ],
}
PAPER_TASKS, PAPER_CANDIDATES = 192_000, 8
NIGHT_HOURS, MACHINE_CORES = 8, 16


def _disk(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def run_stage(name: str, data_dir: Path, home: Path, args: argparse.Namespace, configs: int, profile: bool) -> dict:
    """Materialize one asset (or several, comma-separated) in a child process; its seconds, peak RSS and
    metadata."""
    out = home / f"{name.replace(',', '+')}.json"
    env = {**os.environ, "DAGSTER_HOME": str(home), "XCODER_DATA_DIR": str(data_dir)}
    command = [sys.executable, __file__, "--stage", name, "--configs", str(configs), "--out", str(out)]
    command += ["--candidates", str(args.candidates), "--rounds", str(args.rounds)]
    command += ["--profile-here"] if profile else []
    before, load_before = _disk(data_dir), load_average()
    child = run_child(command, env, out, f"scale: stage {name}")
    meta = child.result
    # the stage's own seconds (the materialization in the child, not the process's start and imports)
    return {
        "seconds": meta["_seconds"],
        "cpu_seconds": meta["_cpu_seconds"],  # the stage's, its sandboxes' programs included (stage_runner.cpu_seconds)
        "process_seconds": child.process_seconds,
        "load": f"{load_before} -> {load_average()}",
        "rss_mb": child.rss_mb,
        "disk": _disk(data_dir) - before,
        "meta": meta,
    }


def stage_main(args: argparse.Namespace) -> None:
    """In the child: materialize args.stage against DAGSTER_HOME and XCODER_DATA_DIR."""
    names = args.stage.split(",")  # the setup stages run together, in one process
    configs = {
        "feature_configs": {"count": args.configs},
        "candidate_solutions": {"candidates_per_problem": args.candidates},
        "evolved_pool": {"rounds": args.rounds},
    }
    run = Materialization(names, configs, BATCH)  # definitions and instance: start-up, not the stage's seconds
    result, seconds, cpu = timed(run.run, args.profile_here)
    finish(
        Path(args.out),
        {"_seconds": seconds, "_cpu_seconds": cpu, **materialization_metadata(result, names[-1], (int, float, str))},
    )


def _cpu(stage: dict) -> float:
    """The stage's CPU seconds (0 for figures kept from a run before they were recorded)."""
    return float(stage.get("cpu_seconds") or 0.0)


def _problems(meta: dict) -> int:
    return int(meta.get("problems_kept") or 0)


def run_size(configs: int, args: argparse.Namespace, profile: str | None) -> tuple[int, dict[str, dict]]:
    if args.dir:
        return _run_size_in(Path(args.dir) / str(configs), configs, args, profile)
    with tempfile.TemporaryDirectory(prefix="xcoder-scale-") as tmp:
        return _run_size_in(Path(tmp), configs, args, profile)


def _run_size_in(root: Path, configs: int, args: argparse.Namespace, profile: str | None) -> tuple[int, dict]:
    """The chosen stages of one size in root (data/, home/); the figures of stages not run this time come
    from root/results.json (a kept directory's earlier runs)."""
    data_dir, home, results = root / "data", root / "home", root / "results.json"
    chosen = [s for s in args.stages.split(",") if s] if args.stages is not None else CHAIN  # "": report only
    unknown = sorted(set(chosen) - set(CHAIN))
    if unknown:
        raise SystemExit(f"scale: --stages: {', '.join(unknown)} not in the chain ({', '.join(CHAIN)})")
    stages = json.loads(results.read_text()) if results.exists() else {}
    if not home.exists():
        home.mkdir(parents=True)
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    if CHAIN[0] in chosen or (chosen and not data_dir.exists()):
        run_stage(",".join(SETUP), data_dir, home, args, configs, False)
    for name in CHAIN:
        if name not in chosen:
            continue
        for entry in FRESH.get(name, ()):  # a re-run does the whole batch's work again, as the first run did
            path = data_dir / entry
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        stages[name] = run_stage(name, data_dir, home, args, configs, profile == name)
        done = stages[name]
        print(
            f"  {configs} configurations: {name} {done['seconds']:.1f} s (CPU {done['cpu_seconds']:.1f} s), "
            f"peak RSS {done['rss_mb']:.0f} MB, load {done['load']}",
            flush=True,
        )
        if args.dir:  # after each stage, so that a later --stages run finds what this one measured
            results.write_text(json.dumps(stages))
    missing = [name for name in CHAIN if name not in stages]
    if missing:
        raise SystemExit(f"scale: {root}: no figures for {', '.join(missing)} (run those stages first)")
    return _problems(stages["problems"]["meta"]), {name: stages[name] for name in CHAIN}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", default="250,2000", help="configurations per batch, one run each")
    parser.add_argument("--candidates", type=int, default=4, help="candidate solutions per problem")
    parser.add_argument("--rounds", type=int, default=100, help="evolved_pool rounds of the setup (the demo's 100)")
    parser.add_argument("--profile", help="print a cProfile of this stage (largest size)")
    parser.add_argument("--dir", help="keep each size's data directory and figures under DIR/<size> (reused if there)")
    parser.add_argument(
        "--stages",
        help="run only these stages of the chain (comma-separated; '' runs none and reports what --dir holds)",
    )
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("--configs", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--profile-here", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        stage_main(args)
        return
    if args.stages is not None and not args.dir:
        parser.error("--stages needs --dir (the directories the earlier stages wrote)")
    sizes = [int(s) for s in args.problems.split(",")]
    runs = {}
    for size in sizes:
        print(f"size {size}: ...", flush=True)
        runs[size] = run_size(size, args, args.profile if size == sizes[-1] else None)

    print(
        "\n| configurations | problems kept | stage | seconds | s / problem | CPU s / problem | peak RSS MB "
        "| disk KB / problem | sandbox runs executed | from run cache | load (1, 5, 15 min) before -> after |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for size, (kept, stages) in runs.items():
        for name, s in stages.items():
            m = s["meta"]
            per = max(kept, 1)
            print(
                f"| {size} | {kept} | {name} | {s['seconds']:.1f} | {s['seconds'] / per:.4f} "
                f"| {_cpu(s) / per:.4f} | {s['rss_mb']:.0f} | {s['disk'] / 1024 / per:.1f} "
                f"| {m.get('sandbox_runs_executed', '')} | {m.get('sandbox_runs_cached', '')} | {s.get('load', '')} |"
            )
    small, large = sizes[0], sizes[-1]
    (kept_s, st_s), (kept_l, st_l) = runs[small], runs[large]
    if large != small and kept_l != kept_s:
        print(f"\nratios {large} / {small} configurations (problems kept {kept_l} / {kept_s}):")
        print(
            "| stage | peak RSS ratio | s / problem ratio | CPU s / problem ratio "
            "| memory model: fixed MB + MB per problem |"
        )
        print("|---|---|---|---|---|")
        for name in CHAIN:
            a, b = st_s[name], st_l[name]
            slope = (b["rss_mb"] - a["rss_mb"]) / (kept_l - kept_s)
            fixed = a["rss_mb"] - slope * kept_s
            per_a, per_b = a["seconds"] / max(kept_s, 1), b["seconds"] / max(kept_l, 1)
            cpu_a, cpu_b = _cpu(a) / max(kept_s, 1), _cpu(b) / max(kept_l, 1)
            print(
                f"| {name} | {b['rss_mb'] / a['rss_mb']:.2f} | {per_b / per_a:.2f} "
                f"| {cpu_b / cpu_a if cpu_a else float('nan'):.2f} | {fixed:.0f} + {slope:.3f} x problems |"
            )
    print(f"\nkept as distinct problems: {kept_l} of {large} configurations ({kept_l / large:.1%})")
    _projection(st_l, kept_l, args.candidates)


def _projection(stages: dict[str, dict], kept: int, candidates: int) -> None:
    """The paper's 192k tasks with 8 candidates, from this run's measured costs per problem."""
    kept = max(kept, 1)
    llm_calls = sum(int(s["meta"].get("llm_requests") or 0) for s in stages.values())
    tokens = sum(
        int(s["meta"].get("llm_prompt_tokens_spent") or 0) + int(s["meta"].get("llm_completion_tokens_spent") or 0)
        for s in stages.values()
    )
    solve_calls = int(stages["candidate_solutions"]["meta"].get("llm_requests") or 0)
    per_problem_calls = (llm_calls - solve_calls) / kept + PAPER_CANDIDATES * solve_calls / kept / max(candidates, 1)
    runs_executed = sum(int(s["meta"].get("sandbox_runs_executed") or 0) for s in stages.values())
    sandbox_seconds = sum(
        s["seconds"] for name, s in stages.items() if name in ("test_inputs", "verified_solutions")
    )  # wall seconds of the sandbox stages on this machine's cores
    cores = os.cpu_count() or 2
    verify = stages["verified_solutions"]
    core_s_per_problem = (
        (stages["test_inputs"]["seconds"] + verify["seconds"] * PAPER_CANDIDATES / max(candidates, 1)) * cores / kept
    )
    disk = sum(s["disk"] for s in stages.values()) / kept
    core_hours = core_s_per_problem * PAPER_TASKS / 3600
    print(f"\npaper-scale projection ({PAPER_TASKS:,} tasks, {PAPER_CANDIDATES} candidates), from the measured costs:")
    print(f"- LLM calls: {per_problem_calls * PAPER_TASKS:,.0f} ({per_problem_calls:.1f} per problem)")
    print(
        f"- tokens: the simulator's answers are short ({tokens / max(llm_calls, 1):,.0f} tokens per call here); at the "
        f"paper's 17.7k-token reasoning chains the solve calls alone are "
        f"{PAPER_TASKS * PAPER_CANDIDATES * 17_700 / 1e9:,.1f} billion completion tokens"
    )
    print(
        f"- sandbox: {runs_executed / kept:.0f} runs executed per problem here; {core_hours:,.0f} core-hours "
        f"({core_s_per_problem:.2f} core-s per problem, this machine's {cores} cores busy for {sandbox_seconds:.0f} s)"
    )
    print(f"- disk: {disk / 1024:.0f} KB per problem -> {disk * PAPER_TASKS / 1e9:,.1f} GB")
    machines = core_hours / (NIGHT_HOURS * MACHINE_CORES)
    print(f"- machines for one {NIGHT_HOURS}-hour night at {MACHINE_CORES} cores each: {machines:,.1f}")


if __name__ == "__main__":
    main()
