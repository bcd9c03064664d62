"""How many configurations the simulator turns into distinct problems with distinct programs: the
measure of the simulator as a load generator (tests, benchmarks/simulator_distinct.py).

Configurations are sampled as the feature_configs stage samples them (recipe/sampling.py, the
recipe's shapes) from a pool shaped like an evolved one (the evolution simulator's vocabulary: its
features per category, each with finer features under it). They go through the problems stage's
own function (composition.compose_problems, the simulator answering in process): the scenario prompt
rendered from the offered features, the statement prompt for the drawn style, both parsed by the
recipe's parsers, an answer that fails validation asked again as the stage does, then the stage's
duplicate check (word 3-shingles, Jaccard 0.8) and the shards' dedup over the whole
question (recipe/dedup.py: numbers and one-letter names folded, boilerplate cut, 5-shingles,
Jaccard 0.8). The kept problems' programs are asked for the way the test_inputs and
candidate_solutions stages ask (write_tests and solve prompts), and compared as dedup.code_tokens
sees them (layout and comments ignored).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from xcoder_assets.llm.answers import split_reasoning
from xcoder_assets.llm.gateway import LLMRequest, LLMResult
from xcoder_assets.recipe import composition, dedup
from xcoder_assets.recipe.candidates import prompt_values as solve_values
from xcoder_assets.recipe.decontamination import Decontaminator
from xcoder_assets.recipe.prompts import load_template
from xcoder_assets.recipe.sampling import PoolItem, config_rows, sample_configs
from xcoder_assets.recipe.test_inputs import prompt_values as tests_values
from xcoder_assets.recipe.verification import extract_solution_code, extract_test_programs
from xcoder_assets.simulator.evolve import SIBLINGS, _variants
from xcoder_assets.simulator.registry import answer
from xcoder_assets.simulator.solve import BLOCK, recognise, solution_program
from xcoder_assets.store.ids import content_hash
from xcoder_assets.store.streaming import chunks
from xcoder_assets.store.tables import PROBLEMS

PROBLEM_COLUMNS = PROBLEMS.schema.names()
PROGRAMS = ("reference", "generator", "validator", "candidate")


def synthetic_pool() -> list[PoolItem]:
    """Pool items like an evolved pool's: every feature of the evolution simulator's vocabulary, and
    under each the finer features evolution gives it (known sub-features or the feature under a modifier)."""
    items = []
    for category, features in SIBLINGS.items():
        for feature in features:
            parent = f"pool-{category}-{feature}".replace(" ", "_")
            items.append(PoolItem(parent, category, (), feature))
            for child in _variants(feature, "pool", 3):
                items.append(PoolItem(f"{parent}-{child}".replace(" ", "_"), category, (feature,), child))
    return items


@dataclass
class DistinctReport:
    configs: int
    status: Counter  # the problems stage's statuses (ok, duplicate, leak, parse_error, truncated)
    shard_duplicates: int  # kept by the problems stage, then a duplicate in the shards' dedup
    survivors: list[dict[str, Any]]  # problems rows that survive both
    programs: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind -> (programs, distinct)
    requests: int = 0  # compose requests made, re-asks included

    @property
    def deduplicated(self) -> int:
        """Statements that reached the duplicate checks (the others failed before: no JSON, cut off, a leak)."""
        return self.status["ok"] + self.status["duplicate"]

    @property
    def survival(self) -> float:
        return len(self.survivors) / self.deduplicated if self.deduplicated else 0.0

    @property
    def kept_share(self) -> float:
        """Configurations that became distinct problems (the acceptance's figure: at least 95%)."""
        return len(self.survivors) / self.configs if self.configs else 0.0

    def describe(self) -> str:
        lines = [
            f"{self.configs} configurations ({self.requests} compose requests, re-asks included): statuses "
            f"{dict(sorted(self.status.items()))}; "
            f"{self.deduplicated} statements reached the duplicate checks, {self.status['duplicate']} duplicates in "
            f"the problems stage, {self.shard_duplicates} more in the shards' dedup; {len(self.survivors)} "
            f"distinct problems ({self.survival:.2%} of those checked, {len(self.survivors) / self.configs:.2%} "
            f"of all configurations)"
        ]
        for kind, (total, distinct) in self.programs.items():
            lines.append(f"  {kind} programs: {total}, distinct {distinct} ({distinct / total if total else 0:.2%})")
        return "\n".join(lines)


def simulated_ask(requests: list[LLMRequest], meter: Any = None) -> list[LLMResult]:
    """A stage's `ask` answered by the simulator in process (no gateway, no cache): each result as the gateway
    makes it (reasoning apart, cut off when the answer ran to max_tokens), its call id from the request."""
    results = []
    for request in requests:
        content, finish = answer(request.template, list(request.messages), request.seed)
        call_id = "call-" + content_hash([request.template, list(request.messages), request.seed], 16)
        split = split_reasoning(content)
        results.append(
            LLMResult(
                call_id,
                call_id,
                request.role,
                "offline",
                request.template,
                {},
                split.answer,
                split.reasoning,
                finish_reason=finish,
                truncated=finish == "length",
            )
        )
    return results


def compose(
    configs: int, seed: int = 42, pool: list[PoolItem] | None = None, max_attempts: int | None = None
) -> DistinctReport:
    """`configs` configurations through the problems stage's own function (both composition steps, the re-asks
    of answers that fail validation, up to `max_attempts` per step: the recipe's by default; its duplicate
    check), then the shards' dedup."""
    items = pool if pool is not None else synthetic_pool()
    templates = (load_template("compose_scenario"), load_template("compose_problem"))
    settings = composition.CompositionSettings(seed=seed)
    if max_attempts is not None:
        settings = replace(settings, max_attempts=max_attempts)
    rows: list[dict[str, Any]] = []
    requests = 0

    def kept(chunk: list[dict[str, Any]], results: list[LLMResult]) -> None:
        nonlocal requests
        rows.extend(chunk)
        requests += len(results)

    sampled = config_rows(sample_configs(items, configs, seed=seed), seed, "distinct")
    composition.compose_problems(
        chunks(sampled, 256),
        len(sampled),
        items,
        settings,
        templates,
        "offline",
        PROBLEM_COLUMNS,
        "distinct",
        simulated_ask,
        kept,
        lambda _: None,
    )
    kept_rows = [r for r in rows if r["status"] == "ok"]
    questions = [composition.problem_question(r) for r in kept_rows]
    # the shards' dedup, as plan_examples runs it (an empty benchmark: the stock sentences are still cut)
    decontaminator = Decontaminator([])
    prepared = decontaminator.prepare(questions)
    dedup_settings = decontaminator.settings
    verdicts = dedup.deduplicate(
        [(r["problem_id"], p.segments) for r, p in zip(kept_rows, prepared)],
        threshold=0.8,
        shingle=dedup_settings.shingle,
        num_perm=dedup_settings.num_perm,
        signatures_of=[p.signature for p in prepared],
        sets_of=[p.shingles for p in prepared],
    )
    survivors = [r for r in kept_rows if verdicts[r["problem_id"]].status == "unique"]
    return DistinctReport(
        len(rows), Counter(r["status"] for r in rows), len(kept_rows) - len(survivors), survivors, requests=requests
    )


def programs_of(row: dict[str, Any], samples: int = BLOCK) -> dict[str, list[str]]:
    """A kept problem's programs as the stages get them: the generator and validator (write_tests), the
    candidates (solve, seeds 0..samples-1, those with one code block), and the reference solution (the
    simulator's right program for the statement, spelled for the problem)."""
    question = composition.problem_question(row)
    out: dict[str, list[str]] = {kind: [] for kind in PROGRAMS}
    found = recognise(question)
    if found is not None:
        archetype, params = found
        out["reference"].append(
            solution_program(archetype, params, row["style"] == "leetcode", "correct", names=question)
        )
    template = load_template("write_tests")
    content, _ = answer(template.id, template.render(**tests_values(row, question)))
    tests = extract_test_programs(split_reasoning(content).answer)
    if tests.generator:
        out["generator"].append(tests.generator)
        out["validator"].append(tests.validator)
    template = load_template("solve")
    messages = template.render(**solve_values(row, question))
    for seed in range(samples):
        content, finish = answer(template.id, messages, seed)
        code = extract_solution_code(split_reasoning(content).answer).code if finish != "length" else None
        if code:
            out["candidate"].append(code)
    return out


def count_programs(report: DistinctReport, samples: int = BLOCK) -> DistinctReport:
    """Fill `report.programs`: per kind, how many programs the surviving problems have and how many of
    them are distinct (by their tokens, as dedup.code_tokens reads code: layout and comments aside)."""
    seen: dict[str, set[str]] = {kind: set() for kind in PROGRAMS}
    totals: Counter = Counter()
    for row in report.survivors:
        for kind, codes in programs_of(row, samples).items():
            for code in codes:
                totals[kind] += 1
                seen[kind].add(dedup.exact_key(dedup.code_tokens(code)))
    report.programs = {kind: (totals[kind], len(seen[kind])) for kind in PROGRAMS}
    return report
