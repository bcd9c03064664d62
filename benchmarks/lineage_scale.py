"""Lineage queries at scale: `xcoder trace ROW`, `xcoder status` and `xcoder sql "SELECT 1"` over 1 and 200 batches.

    .venv/bin/python benchmarks/lineage_scale.py [--batches 1,200] [--copies 25] [--usage-rows 2000000]
        [--configs 48 | --source DATA_DIR] [--repeat 3] [--project ROOT]

A real batch (materialized here on the offline provider with --configs configurations, or the first batch
of --source) is multiplied into data directories in the real on-disk format: each batch folder holds
--copies copies of the batch's rows (every batched row id, LLM call id and run id rewritten, so ids stay
unique and each batch has its own writing run, as a nightly batch does), written with the project's own
Parquet writer; the unbatched assets and the gateway's SQLite cache are copied, and the usage log is grown
to --usage-rows rows at the largest size (proportionally fewer at smaller ones), requests of the batches'
runs. The first `xcoder status` on a data directory sums the whole usage log (the rollup it keeps), the
later ones only the rows logged since: both are shown. Each command runs as a user runs it, in a fresh process
(bytecode cached, as installed); its wall and CPU seconds and peak RSS (the child's own VmHWM) are the medians
and the maximum over --repeat runs. Prints the load average, a table and the ratios of the largest size to the
smallest. --project runs the commands from another checkout (e.g. an exported
earlier commit) to compare against it on the same data.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import duckdb  # noqa: E402
import polars as pl  # noqa: E402

from xcoder_assets.store.parquet import write_parquet  # noqa: E402
from xcoder_assets.store.tables import (  # noqa: E402
    ALL_TABLES,
    ASSET_TABLES,
    BATCHES_DIR,
    LLM_CACHE_FILE,  # noqa: E402
    LLM_CALLS,
    batch_dir,
    batch_dirs,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The id kinds of the batched tables and of their LLM calls: rewritten per batch and copy (the unbatched
# assets' ids - seeds, features, tree nodes, pool entries - are shared by every batch, as in real data).
BATCH_ID = r"\b(cfg|prob|test|cand|ver|call)-([0-9a-f]{11})[0-9a-f]{5}\b"


def materialize_source(root: Path, configs: int) -> Path:
    """A fresh data directory with the synthesis assets of one batch, on the offline provider."""
    import dagster as dg

    from xcoder_assets.definitions import defs as lazy_defs
    from xcoder_assets.defs.partitions import add_batch
    from xcoder_assets.defs.resources import LLMGatewayResource, SandboxResource, StorageResource
    from xcoder_assets.recipe.batches import DEFAULT_BATCH
    from xcoder_assets.store.tables import SYNTHESIS_ASSETS

    logging.getLogger("dagster").setLevel(logging.WARNING)
    data = root / "source"
    assets = {a.key.to_user_string(): a for a in lazy_defs().assets}
    resources = {
        "storage": StorageResource(data_dir=str(data)),
        "llm": LLMGatewayResource(),
        "sandbox": SandboxResource(),
    }
    instance = dg.DagsterInstance.ephemeral()
    add_batch(instance, DEFAULT_BATCH)
    for name in SYNTHESIS_ASSETS:
        config = {"feature_configs": {"config": {"count": configs}}}.get(name)
        result = dg.materialize(
            [assets[name]],
            resources=resources,
            instance=instance,
            run_config={"ops": {name: config}} if config else None,
            partition_key=DEFAULT_BATCH if assets[name].partitions_def is not None else None,
        )
        if not result.success:
            raise SystemExit(f"materializing {name} failed")
    return data


def _rewrite(expr: str, dtype: str) -> str:
    """A column's rewritten value: batched ids get the batch-and-copy code in their last 5 hex digits."""
    if dtype == "VARCHAR":
        return f"regexp_replace({expr}, '{BATCH_ID}', '\\1-\\2' || copy_code, 'g')"
    if dtype == "VARCHAR[]":
        return f"list_transform({expr}, lambda x: regexp_replace(x, '{BATCH_ID}', '\\1-\\2' || copy_code, 'g'))"
    return expr


def copy_batch(con, source: Path, target: Path, index: int, copies: int, run_id: str, input_chars: int) -> None:
    """One batch folder: every Parquet file of the source batch, `copies` times over, ids rewritten."""
    for path in sorted(source.rglob("*.parquet")):
        relative = path.relative_to(source)
        table = LLM_CALLS if relative.parts[0] == "llm_calls" else ALL_TABLES[path.stem]
        src = str(path).replace("'", "''")
        columns = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{src}', hive_partitioning = false)").fetchall()
        select = []
        for name, dtype, *_ in columns:
            if name == "run_id":
                select.append(f"'{run_id}' AS run_id")
            elif name == "input" and table.name == "test_inputs":
                select.append(f"left(input, {input_chars}) AS input")  # the payload is not what lineage reads
            else:
                quoted = f'"{name}"'
                select.append(f"{_rewrite(quoted, dtype)} AS {quoted}")
        frame = pl.from_arrow(
            con.sql(
                f"SELECT {', '.join(select)} FROM (SELECT *, printf('%05x', {index * copies} + c) AS copy_code "
                f"FROM read_parquet('{src}', hive_partitioning = false), range({copies}) AS copy(c))"
            ).to_arrow_table()
        )
        write_parquet(frame, target / relative, table.schema)


def grow_usage_log(path: Path, runs: list[str], rows: int) -> None:
    """The usage log grown to `rows` rows: each batch's run asked for an equal share of the requests (the
    source batch's requests, cycled), as a gateway shared by many runs logs them."""
    db = sqlite3.connect(path)
    try:
        pattern = db.execute("SELECT count(*) FROM usage").fetchone()[0]
        if not pattern:
            raise SystemExit(f"{path} has no usage rows to copy")
        per_run = max(rows // max(len(runs), 1), 1)
        db.execute("CREATE TEMP TABLE pattern AS SELECT row_number() OVER () - 1 AS i, * FROM usage")
        for run in runs:
            db.execute(
                "INSERT INTO usage SELECT ts, ?, asset, role, model, cache_key, cache_hit, error, attempts, "
                "prompt_tokens, completion_tokens, cost_usd FROM ("
                "WITH RECURSIVE k(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM k WHERE n + 1 < ?) "
                "SELECT p.* FROM k JOIN pattern AS p ON p.i = k.n % ?)",
                [run, per_run, pattern],
            )
        db.commit()
    finally:
        db.close()
    from xcoder_assets.llm.cache import ResponseCache

    ResponseCache(path).close()  # the file as the gateway leaves it (its schema and indexes)


def build(source: Path, target: Path, batches: int, copies: int, usage_rows: int, input_chars: int) -> None:
    first = next(iter(batch_dirs(source).values()), None)
    if first is None:
        raise SystemExit(f"{source} has no batch folder under {BATCHES_DIR}/")
    final, target = target, target.with_name(target.name + ".partial")  # renamed once complete
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for path in source.iterdir():  # the unbatched assets, their LLM calls, the gateway's caches
        if path.name == BATCHES_DIR or path.name.startswith(LLM_CACHE_FILE) or path.suffix == ".duckdb":
            continue
        (shutil.copytree if path.is_dir() else shutil.copy2)(path, target / path.name)
    src_db = sqlite3.connect(f"file:{source / LLM_CACHE_FILE}?mode=ro", uri=True)
    dst_db = sqlite3.connect(target / LLM_CACHE_FILE)
    src_db.backup(dst_db)  # a consistent copy, whatever WAL state the source is in
    src_db.close()
    dst_db.close()
    runs = [f"bench-run-{index:05d}-{'0' * 20}" for index in range(batches)]
    con = duckdb.connect()
    for index, run in enumerate(runs):
        copy_batch(con, first, batch_dir(target, f"b{index:04d}"), index, copies, run, input_chars)
    con.close()
    grow_usage_log(target / LLM_CACHE_FILE, runs, usage_rows)
    target.rename(final)


# `xcoder ARGS` as the child runs it, leaving its peak RSS in a file: the kernel's VmHWM of its own memory. The
# maxrss of wait4 is no good here: a child forked from this process keeps this process's peak across exec.
CHILD = """
import os, sys
try:
    from xcoder_assets.cli import main
    status = main(sys.argv[1:])
finally:
    with open("/proc/self/status") as lines:
        peak = next(line.split()[1] for line in lines if line.startswith("VmHWM:"))
    with open(os.environ["XCODER_BENCH_PEAK_FILE"], "w") as out:
        out.write(peak)
sys.exit(status)
"""


def measure(
    project: Path, data: Path, arguments: list[str], repeat: int, pycache: Path
) -> tuple[float, float, float, str]:
    """Median wall seconds, median CPU seconds (user + system: what a busy machine does not inflate)
    and max peak RSS (MB) of `xcoder ARGS` in a fresh process, and its output. Bytecode is cached in
    `pycache` (as an installed package has it), not in the checkout, whatever PYTHONDONTWRITEBYTECODE says."""
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "XCODER_DEBUG", "PYTHONDONTWRITEBYTECODE")}
    env.update(
        PYTHONPATH=str(project),
        XCODER_DATA_DIR=str(data),
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        PYTHONPYCACHEPREFIX=str(pycache),
    )
    walls, cpus, peaks, text = [], [], [], ""
    with tempfile.TemporaryDirectory(prefix="xcoder-lineage-run-") as cwd:
        env["XCODER_BENCH_PEAK_FILE"] = str(Path(cwd) / "peak.txt")
        for _ in range(repeat):
            out = Path(cwd) / "out.txt"
            with out.open("w") as sink:
                started = time.perf_counter()
                child = subprocess.Popen(
                    [sys.executable, "-c", CHILD, *arguments], cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT
                )
                _, status, usage = os.wait4(child.pid, 0)
                walls.append(time.perf_counter() - started)
                child.returncode = os.waitstatus_to_exitcode(status)
            text = out.read_text()
            if child.returncode != 0:
                raise SystemExit(f"xcoder {' '.join(arguments)} failed ({child.returncode}):\n{text[-2000:]}")
            peaks.append(int((Path(cwd) / "peak.txt").read_text()) / 1024)  # KiB
            cpus.append(usage.ru_utime + usage.ru_stime)
    return statistics.median(walls), statistics.median(cpus), max(peaks), text


def lineage_rows(data: Path) -> int:
    from xcoder_assets.store import warehouse

    con = warehouse.connect(data)
    present = set(warehouse.existing_tables(data))
    parts = [warehouse.sql_text(f"lineage/{t.name}.sql").strip().rstrip(";") for t in ASSET_TABLES if t.name in present]
    return int(con.execute("SELECT count(*) FROM (" + "\nUNION ALL\n".join(parts) + ")").fetchall()[0][0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", default="1,200", help="comma-separated batch counts (first is the baseline)")
    parser.add_argument("--copies", type=int, default=19, help="copies of the source batch's rows in each batch")
    parser.add_argument("--usage-rows", type=int, default=2_000_000, help="usage log rows at the largest size")
    parser.add_argument("--configs", type=int, default=48, help="configurations of the batch materialized here")
    parser.add_argument("--source", type=Path, help="use the first batch of this data directory instead")
    parser.add_argument("--input-chars", type=int, default=64, help="test inputs are cut to this many characters")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--project", type=Path, default=PROJECT_ROOT, help="the checkout whose xcoder runs")
    parser.add_argument("--keep", type=Path, help="build the data directories here and keep them")
    args = parser.parse_args()
    sizes = [int(n) for n in args.batches.split(",")]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="xcoder-lineage-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        source = args.source.resolve() if args.source else materialize_source(root, args.configs)
        print(f"source batch: {source} ({time.perf_counter() - started:.1f} s)")
        results: dict[int, dict[str, tuple[float, float, float]]] = {}
        for size in sizes:
            data = root / f"batches-{size}"
            if not data.exists():
                started = time.perf_counter()
                build(source, data, size, args.copies, max(args.usage_rows * size // max(sizes), 1), args.input_chars)
                print(f"built {size} batch(es) in {time.perf_counter() - started:.1f} s", flush=True)
            con = duckdb.connect()
            last = sorted(batch_dirs(data))[-1]
            root_id = con.execute(
                f"SELECT max(verified_id) FROM read_parquet('{batch_dir(data, last)}/verified_solutions.parquet')"
            ).fetchall()[0][0]
            con.close()
            db = sqlite3.connect(f"file:{data / LLM_CACHE_FILE}?mode=ro", uri=True)
            usage = db.execute("SELECT count(*) FROM usage").fetchone()[0]
            db.close()
            print(f"{size} batch(es): {lineage_rows(data)} lineage rows, {usage} usage log rows; tracing {root_id}")
            results[size] = {}
            project, pycache = args.project.resolve(), Path(tmp) / "pycache"
            for warm_up in (["--help"], ["sql", "SELECT 1"], ["trace", root_id]):  # bytecode compiled, not measured
                measure(project, data, warm_up, 1, pycache)
            # the first status sums the whole usage log into the rollup; the later ones only what was logged since
            wall, cpu, peak, _ = measure(project, data, ["status"], 1, pycache)
            results[size]["status, first (whole log)"] = (wall, cpu, peak)
            for label, arguments in (
                ("trace ROW", ["trace", root_id]),
                ("status", ["status"]),
                ('sql "SELECT 1"', ["sql", "SELECT 1"]),
                ("--help (start-up alone)", ["--help"]),
            ):
                wall, cpu, peak, _ = measure(project, data, arguments, args.repeat, pycache)
                results[size][label] = (wall, cpu, peak)
        print()
        load = ", ".join(f"{a:.1f}" for a in load_before) + " -> " + ", ".join(f"{a:.1f}" for a in os.getloadavg())
        print(f"load average (1, 5, 15 min) at the start -> at the end: {load}; {os.cpu_count()} CPUs")
        print("| command | " + " | ".join(f"{n} batch(es): wall s, CPU s, peak MB" for n in sizes) + " |")
        print("|---|" + "---|" * len(sizes))
        for label in results[sizes[0]]:
            cells = [f"{w:.2f} s, {c:.2f} s, {m:.0f} MB" for w, c, m in (results[n][label] for n in sizes)]
            print(f"| {label} | " + " | ".join(cells) + " |")
        low, high = sizes[0], sizes[-1]
        for label in results[low]:
            (w0, c0, m0), (w1, c1, m1) = results[low][label], results[high][label]
            print(
                f"ratio {high}/{low} batches, {label}: time {w1 / w0:.2f}x, CPU {c1 / c0:.2f}x, peak RSS {m1 / m0:.2f}x"
            )


if __name__ == "__main__":
    main()
