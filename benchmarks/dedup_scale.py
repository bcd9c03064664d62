"""Dedup and decontamination at scale: synthetic examples against a LiveCodeBench-sized benchmark.

    .venv/bin/python benchmarks/dedup_scale.py --examples 20000 --scale 1,10 --benchmark 1000

Each size builds `examples` synthetic SFT examples (two solutions per problem, statements of ~120
words drawn from a 6,000-word vocabulary with Codeforces stock sentences mixed in), plants exact and
near-duplicate problems (1%; a near one differs in one word) and paraphrases of benchmark problems (0.5%: names renamed, numbers
changed, sentences reordered), and runs the training_shards plan (recipe.shards.plan_examples: problem
dedup by MinHash LSH, solution dedup, n-gram + MinHash decontamination, selection). It prints examples/s
per size, the ratio (linear cost: about 1), and the recall of the planted cases.
"""

from __future__ import annotations

import argparse
import random
import time

from xcoder_assets.recipe.decontamination import BOILERPLATE, BenchmarkText, Decontaminator
from xcoder_assets.recipe.shards import ShardSettings, SourceExample, plan_examples

SYLLABLES = ["ka", "lo", "mi", "ren", "tas", "vo", "qui", "del", "zor", "pan", "ex", "ul", "fi", "gra", "hon", "sil"]


def vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def statement(rng: random.Random, vocab: list[str], sentences: int = 9) -> list[str]:
    out = []
    for _ in range(sentences):
        words = [
            vocab[min(int(rng.paretovariate(0.9)) - 1, len(vocab) - 1)] if rng.random() < 0.3 else rng.choice(vocab)
            for _ in range(rng.randint(9, 17))
        ]
        words.insert(rng.randrange(len(words)), f"{rng.randint(1, 10**5)}")
        out.append(" ".join(words).capitalize() + ".")
    for _ in range(rng.randint(1, 3)):
        out.insert(rng.randrange(len(out) + 1), rng.choice(BOILERPLATE))
    return out


def paraphrase(rng: random.Random, sentences: list[str]) -> str:
    shuffled = sentences[:]
    rng.shuffle(shuffled)
    return " ".join(
        " ".join(str(rng.randint(1, 10**9)) if w.rstrip(".").isdigit() else w for w in s.split()) for s in shuffled
    )


def build(n_examples: int, n_benchmark: int, seed: int):
    rng = random.Random(seed)
    vocab = vocabulary(rng)
    bench_sentences = [statement(rng, vocab) for _ in range(n_benchmark)]
    benchmark = [BenchmarkText(f"lcb_{i}", "synthetic", " ".join(s)) for i, s in enumerate(bench_sentences)]
    problems = n_examples // 2
    planted_contaminated, planted_duplicates, sources = set(), set(), []
    texts: list[str] = []
    for p in range(problems):
        pid = f"prob-{p:016x}"
        roll = rng.random()
        if roll < 0.005:
            text = paraphrase(rng, bench_sentences[rng.randrange(n_benchmark)])
            planted_contaminated.add(pid)
        elif roll < 0.015 and texts:
            source = rng.randrange(len(texts))
            text = texts[source]
            if f"prob-{source:016x}" in planted_contaminated:  # a copy of a planted paraphrase is one too
                planted_contaminated.add(pid)
            if rng.random() < 0.5:  # near: one word changed (5-shingle Jaccard about 0.92)
                words = text.split()
                words[rng.randrange(len(words))] = rng.choice(vocab)
                text = " ".join(words)
            planted_duplicates.add(pid)
        else:
            text = " ".join(statement(rng, vocab))
        texts.append(text)
        for sample in range(2):
            code = f"def solve(x):\n    return x * {p} + {sample}\n"
            sources.append(
                SourceExample(
                    f"ver-{p:08x}{sample:08x}",
                    pid,
                    f"cand-{p}-{sample}",
                    sample == 0,
                    sample,
                    "codeforces",
                    text,
                    "system",
                    "### Question:\n" + text,
                    "reasoning",
                    code,
                )
            )
    return benchmark, sources, planted_contaminated, planted_duplicates


def run(n_examples: int, n_benchmark: int, seed: int) -> dict:
    benchmark, sources, contaminated, duplicates = build(n_examples, n_benchmark, seed)
    started = time.perf_counter()
    checker = Decontaminator(benchmark)
    index_s = time.perf_counter() - started
    plan = plan_examples(sources, ShardSettings(), checker)
    seconds = time.perf_counter() - started
    flagged = {pid for pid in plan.flags_by_problem}
    dup_problems = {o.source.problem_id for o in plan.outcomes if o.reason and o.reason.endswith("_problem")}
    return {
        "examples": len(sources),
        "seconds": seconds,
        "index_s": index_s,
        "per_s": len(sources) / seconds,
        "contaminated_recall": len(flagged & contaminated) / max(1, len(contaminated)),
        "false_flags": len(flagged - contaminated),
        "duplicate_recall": len(dup_problems & duplicates) / max(1, len(duplicates)),
        "planted": (len(contaminated), len(duplicates)),
        "kept": len(plan.kept()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=200_000, help="examples at 1x")
    parser.add_argument("--scale", default="1,10", help="multiples of --examples to run, e.g. 1,10")
    parser.add_argument("--benchmark", type=int, default=1000, help="benchmark problems (LiveCodeBench v6: 1055)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = []
    print("| size | examples | seconds | examples/s | contaminated recall | false flags | duplicate recall |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for factor in [int(x) for x in args.scale.split(",")]:
        r = run(args.examples * factor, args.benchmark, args.seed)
        results.append(r)
        print(
            f"| {factor}x | {r['examples']:,} | {r['seconds']:.1f} | {r['per_s']:,.0f} | "
            f"{r['contaminated_recall']:.1%} of {r['planted'][0]} | {r['false_flags']} | "
            f"{r['duplicate_recall']:.1%} of {r['planted'][1]} |",
            flush=True,
        )
    if len(results) > 1:
        print(
            f"examples/s ratio {results[-1]['examples'] // results[0]['examples']}x/1x: "
            f"{results[-1]['per_s'] / results[0]['per_s']:.2f} (1.0 = linear cost)"
        )


if __name__ == "__main__":
    main()
