"""Problem composition (SynthSmith step 1 and 2): parsing the answers, styles, leaks and duplicates.

Step 1 (scenario): the model marks how each sampled feature could be used, selects a compatible
subset and writes an integration strategy and a scenario. Step 2 (statement): the model writes the
problem in one of three styles. Every parser returns a value or the reason there is none.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Sequence

import numpy as np

from xcoder_assets.llm.answers import extract_json
from xcoder_assets.llm.gateway import LLMRequest, LLMResult
from xcoder_assets.recipe.failure import Failure
from xcoder_assets.recipe.pool import near_dup_key
from xcoder_assets.recipe.prompts import PromptTemplate
from xcoder_assets.store.ids import make_id
from xcoder_assets.store.progress import LLM_COUNTS, ProgressMeter

RECIPE_STYLE_PROBABILITIES: dict[str, float] = {"codeforces": 0.70, "leetcode": 0.15, "atcoder": 0.15}

STYLE_GUIDES: dict[str, str] = {
    "codeforces": (
        "Codeforces style: a short story that motivates the task, then sections Input, Output and "
        "Examples; the program reads standard input and writes standard output; constraints are given "
        "in the Input section."
    ),
    "leetcode": (
        "LeetCode style: a direct description of a function to implement, examples written as "
        "'Input: name = value, ...' / 'Output: value', then Constraints; give the function name, its "
        "Python signature and starter code with `class Solution:`."
    ),
    "atcoder": (
        "AtCoder style: terse; sections Problem Statement, Constraints (a bullet list, all values "
        "integers unless stated), Input (the exact format), Output, and Sample Input/Output."
    ),
}

# Names that give the solution away when they appear in a statement.
ALGORITHM_TERMS = (
    "dynamic programming",
    "dp",
    "greedy",
    "dijkstra",
    "bellman ford",
    "floyd warshall",
    "bfs",
    "dfs",
    "breadth first search",
    "depth first search",
    "binary search",
    "two pointers",
    "sliding window",
    "segment tree",
    "fenwick tree",
    "binary indexed tree",
    "disjoint set union",
    "union find",
    "dsu",
    "topological sort",
    "minimum spanning tree",
    "kruskal",
    "knapsack",
    "memoization",
    "prefix sum",
    "prefix sums",
    "sieve of eratosthenes",
    "kmp",
    "knuth morris pratt",
    "z function",
    "trie",
    "monotonic stack",
    "priority queue",
    "backtracking",
    "divide and conquer",
    "bitmask",
    "hashing",
    "rolling hash",
    "sparse table",
    "lca",
    "lowest common ancestor",
    "convex hull",
    "matrix exponentiation",
    "kadane",
    "euclidean algorithm",
    "modular inverse",
    "inclusion exclusion",
)
LEAK_CATEGORIES = frozenset({"algorithms", "data_structures", "algorithmic_paradigm", "optimization_techniques"})


class CompositionError(ValueError):
    pass


def check_style_probabilities(probabilities: dict[str, float]) -> None:
    """A ValueError saying what is wrong with a style distribution (negative, all zero, an unknown style)."""
    if not probabilities or any(p < 0 for p in probabilities.values()) or sum(probabilities.values()) <= 0:
        raise ValueError(f"style probabilities must be non-negative with a positive sum, got {probabilities}")
    unknown = set(probabilities) - set(STYLE_GUIDES)
    if unknown:
        raise ValueError(f"unknown styles {sorted(unknown)}; styles are {sorted(STYLE_GUIDES)}")


def draw_style(probabilities: dict[str, float], seed: int, key: str) -> str:
    """The style of one problem: a weighted draw fixed by the seed and the configuration."""
    check_style_probabilities(probabilities)
    rng = random.Random(f"{seed}:style:{key}")
    styles = sorted(probabilities)
    return rng.choices(styles, weights=[probabilities[s] for s in styles], k=1)[0]


@dataclass
class Scenario:
    feature_uses: list[dict[str, str]]
    selected: list[str]
    integration_strategy: str
    scenario: str


def parse_scenario(answer: str, offered: Sequence[str]) -> Scenario:
    """Step 1. `selected` must name offered features (spelling variants are matched)."""
    parsed = extract_json(answer, dict)
    if parsed.error:
        raise CompositionError(parsed.error)
    value = parsed.value
    selected_raw = value.get("selected_features") or value.get("selected") or []
    if isinstance(selected_raw, str):
        selected_raw = [selected_raw]
    by_key = {near_dup_key(f): f for f in offered}
    selected, unknown = [], []
    for name in selected_raw:
        match = by_key.get(near_dup_key(str(name)))
        (selected if match else unknown).append(match or str(name))
    selected = list(dict.fromkeys(selected))
    if not selected:
        raise CompositionError(f"no offered feature selected (named: {[str(s)[:40] for s in selected_raw][:5]})")
    scenario = str(value.get("scenario") or "").strip()
    strategy = str(value.get("integration_strategy") or value.get("strategy") or "").strip()
    if len(scenario) < 20:
        raise CompositionError("the scenario is missing or too short")
    if not strategy:
        raise CompositionError("the integration strategy is missing")
    uses = [u for u in value.get("feature_uses") or [] if isinstance(u, dict)]
    return Scenario(uses, selected, strategy, scenario)


@dataclass
class Statement:
    title: str
    statement: str
    input_format: str
    output_format: str
    constraints: str
    examples: list[dict[str, str]]
    function_name: str | None = None
    signature: str | None = None
    starter_code: str | None = None
    warnings: list[str] = field(default_factory=list)


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return str(value or "").strip()


def parse_statement(answer: str, style: str) -> Statement:
    """Step 2, validated for the style: stdin styles need formats, LeetCode a function."""
    parsed = extract_json(answer, dict)
    if parsed.error:
        raise CompositionError(parsed.error)
    value = parsed.value
    statement = _text(value.get("statement"))
    if len(statement) < 80:
        raise CompositionError(f"the statement is missing or too short ({len(statement)} chars)")
    examples = []
    for example in value.get("examples") or []:
        if (
            isinstance(example, dict)
            and isinstance(example.get("input"), str)
            and isinstance(example.get("output"), str)
        ):
            examples.append({"input": example["input"], "output": example["output"]})
    if not examples:
        raise CompositionError("no example with string 'input' and 'output'")
    result = Statement(
        title=_text(value.get("title")) or statement.split(".")[0][:60],
        statement=statement,
        input_format=_text(value.get("input_format")),
        output_format=_text(value.get("output_format")),
        constraints=_text(value.get("constraints")),
        examples=examples,
    )
    if style == "leetcode":
        name = _text(value.get("function_name"))
        starter = _text(value.get("starter_code"))
        if not _IDENTIFIER.match(name):
            raise CompositionError(f"LeetCode style needs a function name, got {name[:40]!r}")
        if f"def {name}(" not in starter or "class Solution" not in starter:
            raise CompositionError(f"the starter code must define class Solution with def {name}(...)")
        result.function_name, result.signature, result.starter_code = name, _text(value.get("signature")), starter
    elif not result.input_format or not result.output_format:
        raise CompositionError(f"{style} style needs input_format and output_format")
    if not result.constraints:
        result.warnings.append("no constraints given")
    return result


def _normalize_words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.casefold())


def leaked_terms(statement: str, features: Sequence[tuple[str, str]]) -> list[str]:
    """Algorithm names, and the names of the algorithmic features used, that the statement gives away."""
    words = " " + " ".join(_normalize_words(statement)) + " "
    terms = list(ALGORITHM_TERMS)
    terms += [name for category, name in features if category in LEAK_CATEGORIES and len(_normalize_words(name)) >= 2]
    found = []
    for term in terms:
        normalized = " ".join(_normalize_words(term))
        if normalized and f" {normalized} " in words and normalized not in found:
            found.append(normalized)
    return found


def normalized_text_hash(text: str) -> str:
    return hashlib.sha256(" ".join(_normalize_words(text)).encode()).hexdigest()[:16]


class MinHashIndex:
    """Near-duplicate detection: MinHash over word 3-shingles with LSH banding, verified by Jaccard."""

    def __init__(self, threshold: float = 0.8, permutations: int = 64, bands: int = 16, shingle: int = 3):
        if permutations % bands:
            raise ValueError("permutations must be a multiple of bands")
        self.threshold, self.bands, self.rows, self.shingle = threshold, bands, permutations // bands, shingle
        # One 64-bit hash per shingle, then per permutation a seeded splitmix64 finalizer over all shingles
        # at once in numpy (a full-avalanche mix: min-wise as good as a keyed hash). A keyed blake2b per
        # shingle and permutation cost ~20 ms per statement, the largest per-statement cost of the
        # problems stage; this costs under 1 ms.
        rng = random.Random(7)
        self._seeds = np.array([rng.getrandbits(64) for _ in range(permutations)], dtype=np.uint64)
        self._buckets: dict[tuple[int, bytes], list[str]] = {}
        self._shingles: dict[str, set[str]] = {}

    def _shingle_set(self, text: str) -> set[str]:
        words = _normalize_words(text)
        if len(words) < self.shingle:
            return {" ".join(words)}
        return {" ".join(words[i : i + self.shingle]) for i in range(len(words) - self.shingle + 1)}

    def _signature(self, shingles: set[str]) -> list[int]:
        hashes = np.fromiter(
            (int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little") for s in shingles),
            dtype=np.uint64,
            count=len(shingles),
        )
        z = hashes[:, None] ^ self._seeds  # uint64 arithmetic wraps modulo 2^64, as splitmix64 wants
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return (z ^ (z >> np.uint64(31))).min(axis=0).tolist()

    def add(self, key: str, text: str) -> str | None:
        """Index `text`; return the key of an earlier near-duplicate instead, if there is one."""
        shingles = self._shingle_set(text)
        signature = self._signature(shingles)
        bands = [(b, repr(signature[b * self.rows : (b + 1) * self.rows]).encode()) for b in range(self.bands)]
        candidates = dict.fromkeys(k for band in bands for k in self._buckets.get(band, []))
        for other in candidates:
            theirs = self._shingles[other]
            if len(shingles & theirs) / len(shingles | theirs) >= self.threshold:
                return other
        for band in bands:
            self._buckets.setdefault(band, []).append(key)
        self._shingles[key] = shingles
        return None


def render_problem_markdown(style: str, statement: Statement) -> str:
    """The problem as a contestant reads it (statement, formats, examples)."""
    parts = [f"# {statement.title}", statement.statement]
    if statement.input_format:
        parts += ["## Input", statement.input_format]
    if statement.output_format:
        parts += ["## Output", statement.output_format]
    if statement.constraints:
        parts += ["## Constraints", statement.constraints]
    for number, example in enumerate(statement.examples, 1):
        parts += [
            f"## Example {number}",
            "Input:\n```\n" + example["input"].rstrip() + "\n```",
            "Output:\n```\n" + example["output"].rstrip() + "\n```",
        ]
    if statement.starter_code:
        parts += ["## Starter code", "```python\n" + statement.starter_code.rstrip() + "\n```"]
    return "\n\n".join(parts)


# ---- rows of problems ---------------------------------------------------------------------------

ProblemStatus = Literal["ok", "leak", "duplicate", "parse_error", "truncated", "llm_error"]
COMPOSED_STATUSES: tuple[ProblemStatus, ...] = ("ok", "leak", "duplicate")  # a statement was written


@dataclass(frozen=True)
class OfferedFeature:
    entry_id: str
    category: str
    text: str  # "path / feature"

    @property
    def name(self) -> str:
        return self.text.split(" / ")[-1]


def offered_features(feature_ids: Sequence[str], by_id: dict[str, Any]) -> list[OfferedFeature]:
    """The features of a configuration as the scenario prompt lists them (by_id: pool id -> PoolItem)."""
    return [OfferedFeature(i, by_id[i].category, " / ".join((*by_id[i].path, by_id[i].feature))) for i in feature_ids]


def features_prompt(offered: Sequence[OfferedFeature]) -> str:
    return "\n".join(f"- {f.category}: {f.text}" for f in offered)


def parse_answer(result: Any, parser: Callable[[str], Any]) -> Any:
    """A parsed value, or the Failure that says why there is none (llm error, truncation, parse failure)."""
    if failure := result.failure():
        return Failure(*failure)
    try:
        return parser(result.content)
    except CompositionError as exc:
        return Failure("parse_error", str(exc))


def statement_of_row(row: dict[str, Any], with_starter: bool = True) -> Statement:
    """A problems row's statement (without the LeetCode fields when with_starter is false)."""
    return Statement(
        row["title"],
        row["statement"],
        row["input_format"] or "",
        row["output_format"] or "",
        row["constraints"] or "",
        json.loads(row["examples_json"]),
        *((row["function_name"], row["signature"], row["starter_code"]) if with_starter else ()),
    )


def problem_question(row: dict[str, Any]) -> str:
    """The problem as a contestant reads it, without the starter code (prompts put that in their format section)."""
    return render_problem_markdown(row["style"], statement_of_row(row, with_starter=False))


class ProblemComposer:
    """Builds problems rows in configuration order: leaks, exact and near-duplicates marked against the
    problems kept before them."""

    def __init__(self, near_duplicate_threshold: float, columns: Sequence[str]):
        self.exact: dict[str, str] = {}
        self.near = MinHashIndex(threshold=near_duplicate_threshold)
        self.columns = list(columns)

    def record(
        self,
        *,
        config_id: str,
        style: str,
        offered: Sequence[OfferedFeature],
        scenario: Any,
        statement: Any,
        scenario_call_id: str,
        statement_call_id: str | None,
        categories: dict[str, str],
        features: dict[str, str],
        model: str,
        templates: list[str],
        run_id: str,
    ) -> dict[str, Any]:
        """`scenario`/`statement`: the parsed value or a Failure (statement None: never asked);
        `categories`/`features`: pool id -> category / feature name (for the leak test)."""
        record: dict[str, Any] = {key: None for key in self.columns}
        record.update(
            config_id=config_id,
            style=style,
            scenario_call_id=scenario_call_id,
            model=model,
            templates=templates,
            run_id=run_id,
            feature_ids=[],
            selected_features=[],
            leaked_terms=[],
            statement_call_id=statement_call_id,
        )
        if isinstance(scenario, Scenario):
            names = {f.name: f.entry_id for f in offered}
            record.update(
                scenario=scenario.scenario,
                integration_strategy=scenario.integration_strategy,
                selected_features=scenario.selected,
                feature_ids=[names[n] for n in scenario.selected if n in names],
            )
        if isinstance(scenario, Failure):
            record.update(status=scenario.status, error=f"scenario: {scenario.reason}")
        elif isinstance(statement, Failure):
            record.update(status=statement.status, error=f"statement: {statement.reason}")
        else:
            self._composed(record, statement, [(categories[i], features[i]) for i in record["feature_ids"]])
        record["problem_id"] = record["problem_id"] or make_id(
            "prob", {"config": config_id, "style": style, "status": record["status"], "error": record["error"]}
        )
        return record

    def _composed(self, record: dict[str, Any], statement: Statement, used: list[tuple[str, str]]) -> None:
        record.update(
            status="ok",
            title=statement.title,
            statement=statement.statement,
            input_format=statement.input_format,
            output_format=statement.output_format,
            constraints=statement.constraints,
            examples_json=json.dumps(statement.examples),
            function_name=statement.function_name,
            signature=statement.signature,
            starter_code=statement.starter_code,
            error="; ".join(statement.warnings) or None,
        )
        leaks = leaked_terms(statement.statement, used)
        text_key = normalized_text_hash(statement.statement)
        record["leaked_terms"] = leaks
        if leaks:
            record.update(status="leak", error=f"the statement names: {', '.join(leaks)}")
        elif text_key in self.exact:
            record.update(status="duplicate", duplicate_of=self.exact[text_key], error="exact duplicate")
        else:
            record["problem_id"] = make_id(
                "prob", {"config": record["config_id"], "style": record["style"], "statement": statement.statement}
            )
            twin = self.near.add(record["problem_id"], statement.statement)
            if twin is not None:
                record.update(status="duplicate", duplicate_of=twin, error="near-duplicate")
            else:
                self.exact[text_key] = record["problem_id"]


@dataclass(frozen=True)
class ProblemShares:
    """The problems checks' figures: shares over composed problems (a statement was written)."""

    composed: int
    style_shares: dict[str, float]
    style_gaps: dict[str, float]  # |share - probability|, probabilities normalized
    leak_share: float
    duplicate_share: float
    features_used: int
    pool_features: int  # pool features a problem can use (not programming_language / summary)

    @property
    def feature_share(self) -> float:
        return self.features_used / self.pool_features if self.pool_features else 0.0


def problem_shares(
    rows: Sequence[dict[str, Any]], style_probabilities: dict[str, float], pool_categories: Sequence[str]
) -> ProblemShares:
    composed = [r for r in rows if r["status"] in COMPOSED_STATUSES]
    n = len(composed)
    total = sum(style_probabilities.values()) or 1.0
    shares = {s: (sum(r["style"] == s for r in composed) / n if n else 0.0) for s in style_probabilities}
    gaps = {s: round(abs(shares[s] - p / total), 4) for s, p in style_probabilities.items()}
    used = {i for r in rows if r["status"] == "ok" for i in r["feature_ids"] or []}
    return ProblemShares(
        composed=n,
        style_shares={s: round(v, 4) for s, v in shares.items()},
        style_gaps=gaps,
        leak_share=sum(r["status"] == "leak" for r in composed) / n if n else 0.0,
        duplicate_share=sum(r["status"] == "duplicate" for r in composed) / n if n else 0.0,
        features_used=len(used),
        pool_features=sum(1 for c in pool_categories if c not in ("programming_language", "summary")),
    )


# ---- the stage: problems ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompositionSettings:
    """The problems stage's settings and the one owner of their defaults (the recipe's)."""

    seed: int = 42  # of the style draw
    style_probabilities: dict[str, float] = field(default_factory=lambda: dict(RECIPE_STYLE_PROBABILITIES))
    near_duplicate_threshold: float = 0.8  # Jaccard similarity (word 3-shingles) of a near-duplicate


@dataclass
class ComposedProblems:
    rows: list[dict[str, Any]]  # problems rows, in configuration order
    results: list[LLMResult]  # the scenario calls, then the statement calls


def compose_problems(
    configs: Sequence[dict[str, Any]],
    pool: Sequence[Any],
    settings: CompositionSettings,
    templates: tuple[PromptTemplate, PromptTemplate],
    model: str,
    columns: Sequence[str],
    run_id: str,
    ask: Callable[[list[LLMRequest], Any], list[LLMResult]],
    log: Callable[[str], Any],
) -> ComposedProblems:
    """One problem per feature configuration (rows of feature_configs): step 1 asks for a scenario over the
    configuration's features, step 2 for a statement in the configuration's drawn style (only where step 1
    gave a scenario); then leaks and duplicates are marked in configuration order. `pool`: the evolved pool's
    items (entry_id, category, path, feature); `columns`: the problems table's. A ValueError (bad style
    probabilities) comes before any request."""
    scenario_template, statement_template = templates
    styles = {
        row["config_id"]: draw_style(settings.style_probabilities, settings.seed, row["config_id"]) for row in configs
    }
    by_id = {item.entry_id: item for item in pool}
    offered = {row["config_id"]: offered_features(row["feature_ids"], by_id) for row in configs}
    scenario_requests = [
        LLMRequest.of(
            "compose", scenario_template.render(features=features_prompt(offered[cid])), scenario_template.id, cid
        )
        for cid in offered
    ]
    scenario_results = ask(scenario_requests, ProgressMeter("problems: scenario calls", log, **LLM_COUNTS))
    scenarios = {
        cid: parse_answer(result, lambda text, o=offered[cid]: parse_scenario(text, [f.name for f in o]))
        for cid, result in zip(offered, scenario_results)
    }
    ready = [cid for cid, scenario in scenarios.items() if isinstance(scenario, Scenario)]
    statement_requests = [
        LLMRequest.of(
            "compose", _statement_prompt(statement_template, styles[cid], scenarios[cid]), statement_template.id, cid
        )
        for cid in ready
    ]
    statement_results = ask(statement_requests, ProgressMeter("problems: statement calls", log, **LLM_COUNTS))
    statements = {
        cid: (result, parse_answer(result, lambda text, s=styles[cid]: parse_statement(text, s)))
        for cid, result in zip(ready, statement_results)
    }
    composer = ProblemComposer(settings.near_duplicate_threshold, columns)
    categories = {item.entry_id: item.category for item in pool}
    names = {item.entry_id: item.feature for item in pool}
    rows = []
    for cid, first in zip(offered, scenario_results):
        result, statement = statements.get(cid, (None, None))
        rows.append(
            composer.record(
                config_id=cid,
                style=styles[cid],
                offered=offered[cid],
                scenario=scenarios[cid],
                statement=statement,
                scenario_call_id=first.call_id,
                statement_call_id=result.call_id if result else None,
                categories=categories,
                features=names,
                model=model,
                templates=[scenario_template.id, statement_template.id],
                run_id=run_id,
            )
        )
    return ComposedProblems(rows, scenario_results + statement_results)


def _statement_prompt(template: PromptTemplate, style: str, scenario: Scenario) -> Any:
    return template.render(
        style=style,
        style_guide=STYLE_GUIDES[style],
        selected=", ".join(scenario.selected),
        strategy=scenario.integration_strategy,
        scenario=scenario.scenario,
    )
