"""Incremental downstream: what one more nightly batch costs training_shards and lcb_problems.

    .venv/bin/python benchmarks/incremental_shards.py --nights 20 --problems 200

Each "night" adds one generation batch folder in the on-disk format (batches/batch=night-NN/: problems,
candidate_solutions, test_inputs and verified_solutions Parquet with the schemas of store/tables.py, the
settings records, lcb/verified_problems.jsonl), with synthetic statements of ~120 words (dedup_scale.py's
generator) and two solutions per problem; 2% of a night's problems repeat a problem of an earlier night
(half exact, half with one word changed), so the on-disk dedup index has work to do. Then it materializes
lcb_problems and training_shards (dg.materialize, the real assets) and prints, per night, their seconds, the
batches planned and the rows read. The acceptance: night 2 costs what night 1 costs, night N what night 2
costs (the ratio lines; a warm-up run on a throwaway folder first takes the one-time costs of imports and
Dagster's first run), where a rebuild from nothing (the last line: parts, index and source cache
removed, every batch planned again) grows with N.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))  # dedup_scale's statement generator

from dedup_scale import statement, vocabulary  # noqa: E402

from xcoder_assets.defs import benchmark, shards  # noqa: E402
from xcoder_assets.defs.resources import StorageResource  # noqa: E402
from xcoder_assets.recipe.verification import canonical_output, output_hash  # noqa: E402
from xcoder_assets.store.parquet import write_parquet  # noqa: E402
from xcoder_assets.store.votes import TestVoteRecord  # noqa: E402
from xcoder_assets.store.tables import (  # noqa: E402
    CANDIDATE_SOLUTIONS,
    PROBLEMS,
    TEST_INPUTS,
    VERIFIED_SOLUTIONS,
    batch_dir,
    settings_path,
    verified_problems_path,
)

REPEAT_SHARE = 0.02


def write_batch(data_dir: Path, night: int, problems: int, rng: random.Random, vocab, earlier: list[str]) -> int:
    """One night's batch folder; returns how many of its problems repeat an earlier night's."""
    folder = batch_dir(data_dir, f"night-{night:02d}")
    prob, cand, tests, verified, lcb, added = [], [], [], [], [], []
    repeats = 0
    for p in range(problems):
        pid = f"prob-{night:04x}{p:012x}"
        if earlier and rng.random() < REPEAT_SHARE:
            text = rng.choice(earlier)
            if rng.random() < 0.5:
                words = text.split()
                words[rng.randrange(len(words))] = rng.choice(vocab)
                text = " ".join(words)
            repeats += 1
        else:
            text = " ".join(statement(rng, vocab))
        added.append(text)
        prob.append(
            {
                "problem_id": pid,
                "status": "ok",
                "style": "codeforces",
                "title": f"Night {night} problem {p}",
                "statement": text,
                "input_format": "One line with an integer n.",
                "output_format": "One integer.",
                "constraints": "1 <= n <= 10^5",
                "examples_json": json.dumps([{"input": "3\n", "output": "6\n"}]),
            }
        )
        votes = {}
        for t in range(3):
            test_id = f"test-{night:04x}{p:08x}{t:04x}"
            tests.append({"test_id": test_id, "problem_id": pid, "kind": "random", "case_index": t, "input": f"{t}\n"})
            output = f"{t * (p + 2)}\n"
            # two candidates agree on it: verified, in the form vote_report writes
            digest = output_hash(canonical_output(output, functional=False))
            vote = TestVoteRecord(test_id, True, digest, 2, 2, 2, 1.0, None, {digest: 2}, False, output, True)
            votes[test_id] = vote.entry()
        for s in range(2):
            cid = f"cand-{night:04x}{p:08x}{s:04x}"
            code = f"n = int(input())\nprint(n * {p + 2} + {s})\n"
            cand.append(
                {
                    "candidate_id": cid,
                    "problem_id": pid,
                    "sample_index": s,
                    "status": "ok",
                    "code": code,
                    "reasoning": f"Multiply by {p + 2}; variant {s}.",
                }
            )
            verified.append(
                {
                    "verified_id": f"ver-{night:04x}{p:08x}{s:04x}",
                    "problem_id": pid,
                    "candidate_id": cid,
                    "status": "verified",
                    "is_golden": s == 0,
                    "votes_json": json.dumps(votes) if s == 0 else "{}",
                    "code": code,
                }
            )
        lcb.append(
            {
                "question_title": f"Night {night} problem {p}",
                "question_content": text,
                "platform": "codeforces",
                "question_id": pid,
                "contest_id": str(night),
                "contest_date": f"2026-{1 + night // 28:02d}-{1 + night % 28:02d}T00:00:00",
                "starter_code": "",
                "difficulty": "medium",
                "metadata": "{}",
                "public_test_cases": json.dumps([{"input": "1\n", "output": f"{p + 2}\n", "testtype": "stdin"}]),
            }
        )
    earlier += added
    for table, rows in (
        (PROBLEMS, prob),
        (CANDIDATE_SOLUTIONS, cand),
        (TEST_INPUTS, tests),
        (VERIFIED_SOLUTIONS, verified),
    ):
        write_parquet(
            pl.DataFrame([{c: r.get(c) for c in table.schema} for r in rows], schema=table.schema), table.path(folder)
        )
    for asset in ("candidate_solutions", "verified_solutions"):
        path = settings_path(folder, asset)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"run_config": {}, "made_with": {}}))
    out = verified_problems_path(folder)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r) + "\n" for r in lcb))
    return repeats


def materialize(data_dir: Path, asset, config: dict | None = None) -> tuple[float, dict]:
    started = time.perf_counter()
    result = dg.materialize(
        [asset],
        resources={"storage": StorageResource(data_dir=str(data_dir))},
        run_config={"ops": {asset.key.path[-1]: {"config": config or {}}}},
    )
    seconds = time.perf_counter() - started
    (event,) = result.asset_materializations_for_node(asset.key.path[-1])
    return seconds, {k: v.value for k, v in event.metadata.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nights", type=int, default=20)
    parser.add_argument("--problems", type=int, default=200, help="problems per night (two solutions each)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.nights < 2 or args.problems < 1:
        parser.error("--nights at least 2, --problems at least 1")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    rng = random.Random(args.seed)
    vocab = vocabulary(rng)
    work = Path(tempfile.mkdtemp(prefix="incremental-shards-"))
    data_dir = work / "data"
    earlier: list[str] = []
    rows = []
    try:
        # one-time costs (imports, Dagster's first run) on a throwaway data directory, so night 1 is a night
        warm = work / "warm-up"
        write_batch(warm, 0, 4, random.Random(0), vocab, [])
        materialize(warm, benchmark.lcb_problems)
        materialize(warm, shards.training_shards)
        print(f"{args.nights} nights x {args.problems} problems (2 verified solutions each), data in {data_dir}")
        print(
            "| night | lcb_problems s | files parsed | rows parsed | training_shards s | in-asset s | planned "
            "| rows read (verified, candidates, problems, tests) | duplicate problems (all nights) | kept examples "
            "| in-asset s by step |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for night in range(1, args.nights + 1):
            write_batch(data_dir, night, args.problems, rng, vocab, earlier)
            lcb_s, lcb_meta = materialize(data_dir, benchmark.lcb_problems)
            shards_s, meta = materialize(data_dir, shards.training_shards)
            read = meta["rows_read"]
            frame = pl.read_parquet(data_dir / "training_shards.parquet")
            dups = frame.filter(pl.col("reason").str.ends_with("_problem"))["problem_id"].n_unique()
            rows.append((lcb_s, shards_s, meta["seconds"]))
            steps = ", ".join(f"{k} {v:.2f}" for k, v in meta["seconds_by_step"].items())
            print(
                f"| {night} | {lcb_s:.3f} | {len(lcb_meta['sources_parsed'])} | {lcb_meta['rows_parsed']} | "
                f"{shards_s:.3f} | {meta['seconds']:.3f} | {', '.join(meta['batches_planned']) or '-'} | "
                f"{read.get('verified_solutions', 0)}, {read.get('candidate_solutions', 0)}, "
                f"{read.get('problems', 0)}, {read.get('test_inputs', 0)} | {dups} | "
                f"{meta['examples_in_shards']} | {steps} |"
            )
        versions = [p.name for p in (data_dir / "training_shards").iterdir() if (p / "manifest.json").is_file()]
        inodes: dict[tuple[int, int], int] = {}
        apparent = 0
        for path in (data_dir / "training_shards").rglob("*"):
            if path.is_file():
                stat = path.stat()
                inodes[(stat.st_dev, stat.st_ino)] = stat.st_size
                apparent += stat.st_size
        newest = data_dir / "training_shards" / meta["shards_version"]
        one = sum(p.stat().st_size for p in newest.rglob("*") if p.is_file())
        print(
            f"version folders kept (retention keep_versions=3): {len(versions)}; training_shards/ holds "
            f"{sum(inodes.values()) / 1e6:.1f} MB on disk (each file once; {apparent / 1e6:.1f} MB counting every "
            f"link), the newest version alone {one / 1e6:.1f} MB"
        )
        # the same data from nothing: what every night cost before (all batches read and planned again)
        shutil.rmtree(data_dir / "training_shards")
        shutil.rmtree(data_dir / benchmark.LCB_SOURCES_DIR)
        full_lcb, _ = materialize(data_dir, benchmark.lcb_problems)
        full_shards, full = materialize(data_dir, shards.training_shards)
        print(
            f"rebuild of all {args.nights} batches from nothing: lcb_problems {full_lcb:.3f} s, training_shards "
            f"{full_shards:.3f} s (in-asset {full['seconds']:.3f} s, {len(full['batches_planned'])} planned)"
        )
        lcb_1, shards_1, asset_1 = rows[0]
        lcb_2, shards_2, asset_2 = rows[1]
        lcb_n, shards_n, asset_n = rows[-1]
        print(
            f"ratio night 2 / night 1: training_shards {shards_2 / shards_1:.2f} (in-asset {asset_2 / asset_1:.2f}), "
            f"lcb_problems {lcb_2 / lcb_1:.2f}"
        )
        print(
            f"ratio night {args.nights} / night 2: training_shards {shards_n / shards_2:.2f} (in-asset "
            f"{asset_n / asset_2:.2f}), lcb_problems {lcb_n / lcb_2:.2f}"
        )
        if args.nights >= 6:  # one night's seconds are noisy on a shared machine: medians of three nights
            early, late = rows[1:4], rows[-3:]
            med = lambda values: statistics.median(values)  # noqa: E731
            print(
                f"ratio median of the last 3 nights / median of nights 2-4: training_shards "
                f"{med([r[1] for r in late]) / med([r[1] for r in early]):.2f} (in-asset "
                f"{med([r[2] for r in late]) / med([r[2] for r in early]):.2f}), lcb_problems "
                f"{med([r[0] for r in late]) / med([r[0] for r in early]):.2f}"
            )
        print(
            f"ratio rebuild / night {args.nights}: training_shards {full_shards / shards_n:.2f} (in-asset "
            f"{full['seconds'] / asset_n:.2f}), lcb_problems {full_lcb / lcb_n:.2f}"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
