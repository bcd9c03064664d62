"""The demo's figures (docs/getting-started.md), computed from a data directory (and the runs in
DAGSTER_HOME that wrote it), so that they never drift from what `make demo` prints.

    .venv/bin/python scripts/readme_figures.py [--data-dir data] [--write docs/getting-started.md]

Prints the block; with --write, replaces the page's text between the markers
`<!-- demo-figures:begin -->` and `<!-- demo-figures:end -->`. Run it after `make demo` on a fresh
clone (the page says which commit and machine).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import sys
from pathlib import Path

BEGIN, END = "<!-- demo-figures:begin -->", "<!-- demo-figures:end -->"


def _status(data_dir: Path) -> dict:
    from xcoder_assets.cli import main as xcoder

    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        if xcoder(["--data-dir", str(data_dir), "status", "--json"]) != 0:
            raise SystemExit(f"xcoder status failed on {data_dir}")
    return json.loads(captured.getvalue())


def _rows(con, query: str) -> list[tuple]:
    return con.execute(query).fetchall()


def _check_values(runs: list) -> dict[str, float]:
    """The asset checks' own figures (easy_share, unverified_share, leak_share, ...) of the runs that
    wrote the data, from DAGSTER_HOME (empty without one)."""
    import os

    home = os.environ.get("DAGSTER_HOME") or (".dagster_home" if Path(".dagster_home/dagster.yaml").is_file() else "")
    if not home:
        return {}
    from dagster import DagsterEventType, DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    values = {}
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(Path(home).resolve()))) as instance:
        for _, run_id in runs:
            for record in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
                evaluation = record.dagster_event.event_specific_data
                value = evaluation.metadata.get(evaluation.check_name)
                if value is not None:
                    values[evaluation.check_name] = value.value
    return values


def figures(data_dir: Path) -> dict:
    from xcoder_assets.store import warehouse

    status = _status(data_dir)
    con = warehouse.connect(data_dir)
    present = set(warehouse.existing_tables(data_dir))
    problems = dict(_rows(con, "SELECT status, count(*) FROM problems GROUP BY status"))
    verified = _rows(
        con,
        "SELECT count(DISTINCT problem_id) FILTER (WHERE status = 'verified'), "
        "count(*) FILTER (WHERE status = 'verified'), count(*) FILTER (WHERE status = 'rejected') FROM verified_solutions",
    )[0]
    shards = (
        dict(_rows(con, "SELECT status || '/' || split, count(*) FROM training_shards GROUP BY ALL"))
        if "training_shards" in present
        else {}
    )
    scores = (
        _rows(
            con,
            "SELECT platform, count(DISTINCT lcb_problem_id), avg(passed::INT) FROM benchmark_scores "
            "GROUP BY platform ORDER BY platform",
        )
        if "benchmark_scores" in present
        else []
    )
    sandbox = {row["asset"]: row for row in status.get("sandbox_by_asset", [])}
    return {
        "assets": status["assets"],
        "problems": problems,
        "verification": dict(status.get("verification") or {}),
        "golden": verified[0],
        "verified_solutions": verified[1],
        "rejected_problems": verified[2],
        "checks": _check_values(status["runs"].get("verified_solutions", []) + status["runs"].get("problems", [])),
        "shards": shards,
        "scores": scores,
        "sandbox": sandbox,
        "llm": status["llm"],
    }


def render(f: dict) -> str:
    a, p, v = f["assets"], f["problems"], f["verification"]
    kept = p.get("ok", 0)
    stages = " -> ".join(f"{count} {stage}" for stage, count in v.items())
    checks = f["checks"]
    shards = f["shards"]
    kept_train, kept_val = shards.get("kept/train", 0), shards.get("kept/validation", 0)
    considered = sum(shards.values())
    shard_line = (
        [
            f"- training_shards: {considered} examples considered, {kept_train + kept_val} kept "
            f"(train {kept_train}, validation {kept_val})"
        ]
        if shards
        else []
    )
    lines = [
        f"- seeds {a.get('seed_problems', 0)}, features {a.get('features', 0)}, feature pool {a.get('evolved_pool', 0)} "
        f"entries, configurations {a.get('feature_configs', 0)}",
        f"- composed problems {sum(p.values())}: {kept} kept, "
        + ", ".join(f"{n} {s}" for s, n in sorted(p.items()) if s != "ok"),
        f"- verification: {stages}; {f['rejected_problems']} problems rejected",
        f"- golden solutions {f['golden']} of {v.get('with tests', kept)} problems with tests"
        + (
            f"; easy_share {checks['easy_share']:.0%} (solved by every usable candidate)"
            if "easy_share" in checks
            else ""
        )
        + (
            f"; unverified_share {checks['unverified_share']:.0%} of the voted tests"
            if "unverified_share" in checks
            else ""
        )
        + (f"; leak_share {checks['leak_share']:.0%} of the statements" if "leak_share" in checks else ""),
    ] + shard_line
    run = f["sandbox"].get("verified_solutions")
    if run and run.get("runs"):
        lines.append(
            f"- verified_solutions sandbox runs: {run['runs']:,} = {run.get('executed', 0):,} executed + "
            f"{run.get('cached', 0):,} cached + {run.get('skipped', 0):,} skipped after a time limit"
        )
    if f["scores"]:
        lines.append(
            "- benchmark_scores pass@1 (the simulator's answers): "
            + ", ".join(f"{platform} {score:.2f} ({n} problems)" for platform, n, score in f["scores"])
        )
    llm = f["llm"]
    lines.append(
        f"- LLM requests, all runs: {llm.get('requests', 0):,} = {llm.get('sent_to_model', 0):,} sent + "
        f"{llm.get('cache_hits', 0):,} from the cache"
    )
    return "\n".join(lines)


def write(readme: Path, block: str) -> None:
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{readme}: no {BEGIN} ... {END} block")
    readme.write_text(pattern.sub(lambda _: f"{BEGIN}\n{block}\n{END}", text), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--write", metavar="PAGE", help="replace a page's demo-figures block")
    args = parser.parse_args(argv)
    block = render(figures(Path(args.data_dir)))
    if args.write:
        write(Path(args.write), block)
    print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
