"""How many feature configurations the offline simulator turns into distinct problems with distinct programs.

    .venv/bin/python benchmarks/simulator_distinct.py [--configs 10000] [--seed 42] [--samples 8] [--max-attempts 3]

Configurations are sampled as feature_configs samples them, from a pool shaped like an evolved one;
each goes through the problems stage's own function (both composition steps, an answer that fails
validation asked again up to `--max-attempts` times per step, its duplicate check) and the shards'
dedup (xcoder_assets/simulator/distinct.py says exactly how). Then the surviving problems' programs
are asked for (write_tests, and solve for `--samples` seeds) and counted: how many, how many distinct.
The figure the scale acceptance asks for: the share of the configurations kept as distinct problems
(at least 95%).
"""

import argparse
import os
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from xcoder_assets.simulator.distinct import compose, count_programs  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--samples", type=int, default=8, help="solve samples per problem (0: skip the programs)")
    parser.add_argument(
        "--max-attempts", type=int, default=None, help="asks per composition step (default: the recipe's; 1: no re-ask)"
    )
    args = parser.parse_args()
    if args.max_attempts is not None and args.max_attempts < 1:
        raise SystemExit(f"simulator_distinct: --max-attempts must be at least 1, got {args.max_attempts}")
    started = time.perf_counter()
    report = compose(args.configs, seed=args.seed, max_attempts=args.max_attempts)
    composed = time.perf_counter() - started
    if args.samples:
        count_programs(report, args.samples)
    print(report.describe())
    print(
        f"distinct problems: {len(report.survivors)} of {report.configs} configurations ({report.kept_share:.2%}; "
        f"acceptance: at least 95%), {report.survival:.2%} of the {report.deduplicated} checked; "
        f"{report.requests / max(report.configs, 1):.2f} compose requests per configuration; "
        f"composition {composed:.1f} s, programs {time.perf_counter() - started - composed:.1f} s"
    )


if __name__ == "__main__":
    main()
