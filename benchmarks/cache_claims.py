"""What the shared caches' claims cost (store/sqlstore.py, docs/shared-caches.md), per cache database.

    .venv/bin/python benchmarks/cache_claims.py --runs 1000 --per-program 10 [--postgres-url postgresql://...]

Stores `runs` sandbox results in a run cache as run_matrix does, a program (`per-program` runs) at a time:
first a look and a store per run (the work without claims), then the same with the program's claim and
release around it. Prints both times and their ratio for SQLite (a temp file) and, given a URL (or
XCODER_CACHE_URL), for Postgres (it writes a `runs` and a `claims` table there, keys unique to this run).
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
import time
from pathlib import Path

from xcoder_assets.sandbox.runs import RunCache


def measure(location: str | Path, runs: int, per_program: int) -> tuple[float, float]:
    cache = RunCache(location)
    tag = secrets.token_hex(4)  # fresh keys every run, in a database that may hold earlier ones
    result = {"stdout": "x\n", "stderr": "", "exit_code": 0, "wall_s": 0.01, "cpu_s": 0.01}
    try:
        timings = []
        for mode in ("store", "claims"):
            keys = [f"{tag}-{mode}-{i:07d}" for i in range(runs)]
            started = time.perf_counter()
            for start in range(0, runs, per_program):
                program = keys[start : start + per_program]
                cache.get_many(program)
                claimed = cache.claim(program) if mode == "claims" else None
                for key in program:
                    cache.put(key, result)
                if claimed is not None:
                    cache.release(sorted(claimed.mine))
            timings.append(time.perf_counter() - started)
        return timings[0], timings[1]
    finally:
        cache.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--per-program", type=int, default=10)
    parser.add_argument("--postgres-url", default=os.environ.get("XCODER_CACHE_URL"))
    args = parser.parse_args()
    targets: list[tuple[str, str | Path]] = []
    folder = tempfile.mkdtemp(prefix="cache-claims-")
    targets.append(("sqlite", Path(folder) / "runs.sqlite"))
    if args.postgres_url:
        targets.append(("postgres", args.postgres_url))
    print(f"{args.runs} runs, {args.per_program} per program")
    for name, location in targets:
        store, claims = measure(location, args.runs, args.per_program)
        print(
            f"{name:8s} store only {store * 1000:8.0f} ms ({store / args.runs * 1000:.2f} ms/run), with claims "
            f"{claims * 1000:8.0f} ms ({claims / args.runs * 1000:.2f} ms/run); ratio claims/store {claims / store:.2f}"
        )


if __name__ == "__main__":
    main()
