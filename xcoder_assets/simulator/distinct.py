"""How many configurations the simulator turns into distinct problems with distinct programs: the
measure of the simulator as a load generator (tests, benchmarks/simulator_distinct.py).

Configurations are sampled as the feature_configs stage samples them (recipe/sampling.py, the
recipe's shapes) from a pool shaped like an evolved one (the evolution simulator's vocabulary: its
features per category, each with finer features under it). Each goes through the problems stage's
own steps: the scenario prompt rendered from the offered features, the statement prompt for the
drawn style, both parsed by the recipe's parsers, then the stage's duplicate check
(composition.ProblemComposer: word 3-shingles, Jaccard 0.8) and the shards' dedup over the whole
question (recipe/dedup.py: numbers and one-letter names folded, boilerplate cut, 5-shingles,
Jaccard 0.8). The kept problems' programs are asked for the way the test_inputs and
candidate_solutions stages ask (write_tests and solve prompts), and compared as dedup.code_tokens
sees them (layout and comments ignored).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from xcoder_assets.llm.answers import split_reasoning
from xcoder_assets.recipe import composition, dedup
from xcoder_assets.recipe.candidates import prompt_values as solve_values
from xcoder_assets.recipe.decontamination import Decontaminator
from xcoder_assets.recipe.failure import Failure
from xcoder_assets.recipe.prompts import load_template
from xcoder_assets.recipe.sampling import PoolItem, config_rows, sample_configs
from xcoder_assets.recipe.test_inputs import prompt_values as tests_values
from xcoder_assets.recipe.verification import extract_solution_code, extract_test_programs
from xcoder_assets.simulator.evolve import SIBLINGS, _variants
from xcoder_assets.simulator.registry import answer
from xcoder_assets.simulator.solve import BLOCK, recognise, solution_program

PROBLEM_COLUMNS = (
    "problem_id config_id style status error duplicate_of title statement input_format output_format constraints "
    "examples_json function_name signature starter_code scenario integration_strategy selected_features "
    "feature_ids leaked_terms scenario_call_id statement_call_id model templates run_id"
).split()
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

    @property
    def deduplicated(self) -> int:
        """Statements that reached the duplicate checks (the others failed before: no JSON, cut off, a leak)."""
        return self.status["ok"] + self.status["duplicate"]

    @property
    def survival(self) -> float:
        return len(self.survivors) / self.deduplicated if self.deduplicated else 0.0

    def describe(self) -> str:
        lines = [
            f"{self.configs} configurations: statuses {dict(sorted(self.status.items()))}; "
            f"{self.deduplicated} statements reached the duplicate checks, {self.status['duplicate']} duplicates in "
            f"the problems stage, {self.shard_duplicates} more in the shards' dedup; {len(self.survivors)} "
            f"distinct problems ({self.survival:.2%} of those checked, {len(self.survivors) / self.configs:.2%} "
            f"of all configurations)"
        ]
        for kind, (total, distinct) in self.programs.items():
            lines.append(f"  {kind} programs: {total}, distinct {distinct} ({distinct / total if total else 0:.2%})")
        return "\n".join(lines)


def compose(configs: int, seed: int = 42, pool: list[PoolItem] | None = None) -> DistinctReport:
    """`configs` configurations through both composition steps and both duplicate checks."""
    items = pool if pool is not None else synthetic_pool()
    by_id = {i.entry_id: i for i in items}
    scenario_template, statement_template = load_template("compose_scenario"), load_template("compose_problem")
    composer = composition.ProblemComposer(0.8, PROBLEM_COLUMNS)
    categories = {i.entry_id: i.category for i in items}
    names = {i.entry_id: i.feature for i in items}
    rows = []
    for row in config_rows(sample_configs(items, configs, seed=seed), seed, "distinct"):
        offered = composition.offered_features(row["feature_ids"], by_id)
        style = composition.draw_style(composition.RECIPE_STYLE_PROBABILITIES, seed, row["config_id"])
        messages = scenario_template.render(features=composition.features_prompt(offered))
        scenario = _parsed(
            answer(scenario_template.id, messages), lambda t: composition.parse_scenario(t, [f.name for f in offered])
        )
        statement = None
        if isinstance(scenario, composition.Scenario):
            messages = statement_template.render(
                style=style,
                style_guide=composition.STYLE_GUIDES[style],
                selected=", ".join(scenario.selected),
                strategy=scenario.integration_strategy,
                scenario=scenario.scenario,
            )
            statement = _parsed(
                answer(statement_template.id, messages), lambda t: composition.parse_statement(t, style)
            )
        rows.append(
            composer.record(
                config_id=row["config_id"],
                style=style,
                offered=offered,
                scenario=scenario,
                statement=statement,
                scenario_call_id="",
                statement_call_id=None,
                categories=categories,
                features=names,
                model="offline",
                templates=[],
                run_id="distinct",
            )
        )
    kept = [r for r in rows if r["status"] == "ok"]
    questions = [composition.problem_question(r) for r in kept]
    # the shards' dedup, as plan_examples runs it (an empty benchmark: the stock sentences are still cut)
    decontaminator = Decontaminator([])
    prepared = decontaminator.prepare(questions)
    settings = decontaminator.settings
    verdicts = dedup.deduplicate(
        [(r["problem_id"], p.segments) for r, p in zip(kept, prepared)],
        threshold=0.8,
        shingle=settings.shingle,
        num_perm=settings.num_perm,
        signatures_of=[p.signature for p in prepared],
        sets_of=[p.shingles for p in prepared],
    )
    survivors = [r for r in kept if verdicts[r["problem_id"]].status == "unique"]
    return DistinctReport(len(rows), Counter(r["status"] for r in rows), len(kept) - len(survivors), survivors)


def _parsed(result: tuple[str, str], parser) -> Any:
    content, finish = result
    if finish == "length":
        return Failure("truncated", "cut off")
    try:
        return parser(split_reasoning(content).answer)
    except composition.CompositionError as exc:
        return Failure("parse_error", str(exc))


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
