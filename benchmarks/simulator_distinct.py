"""How many feature configurations the offline simulator turns into distinct problems with distinct programs.

    .venv/bin/python benchmarks/simulator_distinct.py [--configs 10000] [--seed 42] [--samples 8]

Configurations are sampled as feature_configs samples them, from a pool shaped like an evolved one;
each goes through both composition steps, the problems stage's duplicate check and the shards' dedup
(xcoder_assets/simulator/distinct.py says exactly how). Then the surviving problems' programs are
asked for (write_tests, and solve for `--samples` seeds) and counted: how many, how many distinct.
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
    args = parser.parse_args()
    started = time.perf_counter()
    report = compose(args.configs, seed=args.seed)
    composed = time.perf_counter() - started
    if args.samples:
        count_programs(report, args.samples)
    print(report.describe())
    print(
        f"distinct problems: {len(report.survivors)} of {report.deduplicated} checked ({report.survival:.2%}); "
        f"composition {composed:.1f} s, programs {time.perf_counter() - started - composed:.1f} s"
    )


if __name__ == "__main__":
    main()
