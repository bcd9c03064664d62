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
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal, Sequence

import numpy as np

from xcoder_assets.llm.answers import extract_json
from xcoder_assets.llm.gateway import LLMRequest, LLMResult
from xcoder_assets.recipe.failure import Failure
from xcoder_assets.recipe.pool import near_dup_key
from xcoder_assets.recipe.prompts import PromptTemplate
from xcoder_assets.recipe.stage import Sample, prefetched
from xcoder_assets.present.figures import LLMFigures
from xcoder_assets.store.ids import make_id
from xcoder_assets.present.progress import LLM_COUNTS, StageProgress

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
    """Near-duplicate detection: MinHash over word 3-shingles with LSH banding, verified by Jaccard.

    It spans a whole batch (every kept statement stays indexed), so what it keeps per statement is compact: the
    shingles as sorted 64-bit hashes (the Jaccard check over them is the one over the shingles, short of a 64-bit
    collision) and one integer bucket key per band; a set of shingle strings and a tuple of bytes per band took
    ~16 KB a statement, 3 GB at the paper's 192k statements."""

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
        # a band's key: its rows' minima mixed into one 64-bit integer (odd multipliers), salted per band
        self._band_mix = np.array([rng.getrandbits(64) | 1 for _ in range(self.rows)], dtype=np.uint64)
        self._band_salt = np.array([rng.getrandbits(64) for _ in range(bands)], dtype=np.uint64)
        self._buckets: dict[int, str | list[str]] = {}  # band key -> the key indexed there (a list when several)
        self._shingles: dict[str, np.ndarray] = {}  # key -> its shingles' hashes, sorted and unique

    def _shingle_set(self, text: str) -> set[str]:
        words = _normalize_words(text)
        if len(words) < self.shingle:
            return {" ".join(words)}
        return {" ".join(words[i : i + self.shingle]) for i in range(len(words) - self.shingle + 1)}

    @staticmethod
    def _hashes(shingles: set[str]) -> np.ndarray:
        return np.fromiter(
            (int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little") for s in shingles),
            dtype=np.uint64,
            count=len(shingles),
        )

    def _signature(self, shingles: set[str]) -> list[int]:
        z = self._hashes(shingles)[:, None] ^ self._seeds  # uint64 arithmetic wraps modulo 2^64, as splitmix64 wants
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return (z ^ (z >> np.uint64(31))).min(axis=0).tolist()

    def add(self, key: str, text: str) -> str | None:
        """Index `text`; return the key of an earlier near-duplicate instead, if there is one."""
        shingles = self._shingle_set(text)
        signature = np.array(self._signature(shingles), dtype=np.uint64).reshape(self.bands, self.rows)
        bands = ((signature * self._band_mix).sum(axis=1, dtype=np.uint64) ^ self._band_salt).tolist()
        hashes = np.unique(self._hashes(shingles))
        candidates: dict[str, None] = {}
        for band in bands:
            found = self._buckets.get(band)
            if found is not None:
                candidates.update(dict.fromkeys([found] if isinstance(found, str) else found))
        for other in candidates:
            theirs = self._shingles[other]
            common = np.intersect1d(hashes, theirs, assume_unique=True).size
            if common / (hashes.size + theirs.size - common) >= self.threshold:
                return other
        for band in bands:
            found = self._buckets.get(band)
            if found is None:
                self._buckets[band] = key
            elif isinstance(found, str):
                self._buckets[band] = [found, key]
            else:
                found.append(key)
        self._shingles[key] = hashes
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


def used_feature_ids(scenario: Scenario, offered: Sequence[OfferedFeature]) -> list[str]:
    """The pool ids of the offered features the scenario selected (what the leak test and the coverage count)."""
    names = {f.name: f.entry_id for f in offered}
    return [names[n] for n in scenario.selected if n in names]


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
        attempts: int | None = None,
        step_attempts: int = 1,
    ) -> dict[str, Any]:
        """`scenario`/`statement`: the parsed value or a Failure (statement None: never asked);
        `categories`/`features`: pool id -> category / feature name (for the leak test); `attempts`: the
        requests made for the configuration (the `attempts` column, where the table has it); `step_attempts`:
        those of the step whose answer decides the row, named in the reason of a failure or leak after several."""
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
        if "attempts" in self.columns:
            record["attempts"] = attempts
        after = f" (after {step_attempts} attempts)" if step_attempts > 1 else ""
        if isinstance(scenario, Scenario):
            record.update(
                scenario=scenario.scenario,
                integration_strategy=scenario.integration_strategy,
                selected_features=scenario.selected,
                feature_ids=used_feature_ids(scenario, offered),
            )
        if isinstance(scenario, Failure):
            record.update(status=scenario.status, error=f"scenario: {scenario.reason}{after}")
        elif isinstance(statement, Failure):
            record.update(status=statement.status, error=f"statement: {statement.reason}{after}")
        else:
            self._composed(record, statement, [(categories[i], features[i]) for i in record["feature_ids"]], after)
        record["problem_id"] = record["problem_id"] or make_id(
            "prob", {"config": config_id, "style": style, "status": record["status"], "error": record["error"]}
        )
        return record

    def _composed(
        self, record: dict[str, Any], statement: Statement, used: list[tuple[str, str]], after: str = ""
    ) -> None:
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
            record.update(status="leak", error=f"the statement names: {', '.join(leaks)}{after}")
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


# ---- the stage: problems ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompositionSettings:
    """The problems stage's settings and the one owner of their defaults (the recipe's)."""

    seed: int = 42  # of the style draw
    style_probabilities: dict[str, float] = field(default_factory=lambda: dict(RECIPE_STYLE_PROBABILITIES))
    near_duplicate_threshold: float = 0.8  # Jaccard similarity (word 3-shingles) of a near-duplicate
    # Asks per step: an answer that fails validation (no JSON, cut off, a leak) is asked again, as a production
    # pipeline re-asks a response whose parse fails; 1 asks once.
    max_attempts: int = 3

    def check(self) -> None:
        """A ValueError saying what is wrong with the settings, before any request."""
        check_style_probabilities(self.style_probabilities)
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(f"max_attempts must be a whole number of at least 1, got {self.max_attempts!r}")


# Answers asked again (same prompt, the next attempt's seed): those that failed validation. An llm_error is not
# (the gateway retried it already; a budget stop must stop), nor a duplicate (another answer would be a new problem).
REASKED_SCENARIO: frozenset[str] = frozenset({"parse_error", "truncated"})
REASKED_STATEMENT: frozenset[str] = frozenset({"parse_error", "truncated", "leak"})


def attempt_seed(attempt: int) -> int | None:
    """The seed of a request's attempt (1, 2, ...): the first is the plain request (no seed, so that answers cached
    before re-asks existed stay valid and max_attempts=1 sends what it always sent); attempt k > 1 has seed k, a
    distinct request with its own cache key (a rerun gets each attempt's answer back from the cache)."""
    return None if attempt == 1 else attempt


@dataclass
class ProblemsTally:
    """What the problems stage's metadata and checks report, counted as rows are written (no row is kept)."""

    configs: int = 0
    status: Counter = field(default_factory=Counter)
    composed_styles: Counter = field(default_factory=Counter)  # problems a statement was written for
    kept_styles: Counter = field(default_factory=Counter)
    features_used: set[str] = field(default_factory=set)  # pool ids the kept problems use: bounded by the pool
    leaked: Sample = field(default_factory=Sample)  # problem ids
    duplicates: Sample = field(default_factory=Sample)
    kept: Sample = field(default_factory=lambda: Sample(15))  # (problem_id, style, title) of the first kept
    first_kept: dict[str, Any] | None = None  # the first kept row (the UI's sample problem)
    attempts: Counter = field(default_factory=Counter)  # configurations by the requests made for them
    reasked: Counter = field(default_factory=Counter)  # requests asked again, by step (scenario, statement)
    llm: LLMFigures = field(default_factory=LLMFigures)

    def add(self, rows: Sequence[dict[str, Any]]) -> None:
        self.configs += len(rows)
        for row in rows:
            status = row["status"]
            self.status[status] += 1
            if row.get("attempts") is not None:
                self.attempts[row["attempts"]] += 1
            if status in COMPOSED_STATUSES:
                self.composed_styles[row["style"]] += 1
            if status == "leak":
                self.leaked.add([row["problem_id"]])
            elif status == "duplicate":
                self.duplicates.add([row["problem_id"]])
            elif status == "ok":
                self.kept_styles[row["style"]] += 1
                self.features_used.update(row["feature_ids"] or [])
                self.kept.add([(row["problem_id"], row["style"], row["title"])])
                if self.first_kept is None:
                    self.first_kept = dict(row)

    def shares(self, style_probabilities: dict[str, float], pool_categories: Sequence[str]) -> "ProblemShares":
        n = sum(self.composed_styles.values())
        total = sum(style_probabilities.values()) or 1.0
        shares = {s: (self.composed_styles[s] / n if n else 0.0) for s in style_probabilities}
        return ProblemShares(
            composed=n,
            style_shares={s: round(v, 4) for s, v in shares.items()},
            style_gaps={s: round(abs(shares[s] - p / total), 4) for s, p in style_probabilities.items()},
            leak_share=self.status["leak"] / n if n else 0.0,
            duplicate_share=self.status["duplicate"] / n if n else 0.0,
            features_used=len(self.features_used),
            pool_features=sum(1 for c in pool_categories if c not in ("programming_language", "summary")),
        )


def problem_shares(
    rows: Sequence[dict[str, Any]], style_probabilities: dict[str, float], pool_categories: Sequence[str]
) -> ProblemShares:
    tally = ProblemsTally()
    tally.add(rows)
    return tally.shares(style_probabilities, pool_categories)


@dataclass
class _Config:
    """One configuration's answers while its chunk is asked (the chunk's only per-configuration state)."""

    config_id: str
    style: str
    offered: list[OfferedFeature]
    scenario: Any = None  # Scenario | Failure
    scenario_call_id: str = ""
    scenario_attempts: int = 0
    statement: Any = None  # Statement | Failure | None (never asked)
    statement_call_id: str | None = None
    statement_attempts: int = 0


WriteProblems = Callable[[list[dict[str, Any]], list[LLMResult]], None]


def compose_problems(
    chunks: Iterable[Sequence[dict[str, Any]]],
    configs: int,
    pool: Sequence[Any],
    settings: CompositionSettings,
    templates: tuple[PromptTemplate, PromptTemplate],
    model: str,
    columns: Sequence[str],
    run_id: str,
    ask: Callable[[list[LLMRequest], Any], list[LLMResult]],
    write: WriteProblems,
    log: Callable[[str], Any],
) -> ProblemsTally:
    """One problem per feature configuration (rows of feature_configs with config_id and feature_ids, in chunks;
    `configs`: how many in all): per chunk, step 1 asks for a scenario over each configuration's features, step 2
    for a statement in its drawn style (where step 1 gave a scenario); an answer that fails validation is asked
    again, up to `settings.max_attempts` per step; then leaks and duplicates are marked in configuration order
    against every problem kept before (over the whole batch), and the chunk's rows and every attempt's LLM result
    go to `write`. `pool`: the evolved pool's items (entry_id, category, path, feature); `columns`: the problems
    table's. A ValueError (bad settings) comes before any request."""
    settings.check()
    by_id = {item.entry_id: item for item in pool}
    categories = {item.entry_id: item.category for item in pool}
    names = {item.entry_id: item.feature for item in pool}
    composer = ProblemComposer(settings.near_duplicate_threshold, columns)
    tally = ProblemsTally()
    scenario_meter = StageProgress("problems: scenario calls", log, configs, **LLM_COUNTS)
    statement_meter = StageProgress("problems: statement calls", log, configs, **LLM_COUNTS)

    def asked(rows: Sequence[dict[str, Any]]) -> tuple[list[_Config], list[LLMResult]]:
        chunk = [
            _Config(
                row["config_id"],
                draw_style(settings.style_probabilities, settings.seed, row["config_id"]),
                offered_features(row["feature_ids"], by_id),
            )
            for row in rows
        ]
        return chunk, _ask_chunk(chunk, settings, templates, categories, names, ask, scenario_meter, statement_meter)

    for chunk, results in prefetched(chunks, asked):
        rows = [
            composer.record(
                config_id=c.config_id,
                style=c.style,
                offered=c.offered,
                scenario=c.scenario,
                statement=c.statement,
                scenario_call_id=c.scenario_call_id,
                statement_call_id=c.statement_call_id,
                categories=categories,
                features=names,
                model=model,
                templates=[templates[0].id, templates[1].id],
                run_id=run_id,
                attempts=c.scenario_attempts + c.statement_attempts,
                step_attempts=c.statement_attempts if c.statement is not None else c.scenario_attempts,
            )
            for c in chunk
        ]
        write(rows, results)
        tally.add(rows)
        tally.llm += LLMFigures.of(results)
        tally.reasked["scenario"] += sum(max(0, c.scenario_attempts - 1) for c in chunk)
        tally.reasked["statement"] += sum(max(0, c.statement_attempts - 1) for c in chunk)
    scenario_meter.finish()
    statement_meter.finish()
    return tally


def _ask_chunk(
    chunk: list[_Config],
    settings: CompositionSettings,
    templates: tuple[PromptTemplate, PromptTemplate],
    categories: dict[str, str],
    names: dict[str, str],
    ask: Callable[[list[LLMRequest], Any], list[LLMResult]],
    scenario_meter: StageProgress,
    statement_meter: StageProgress,
) -> list[LLMResult]:
    """Both steps for one chunk, each answer that fails validation asked again up to max_attempts times; every
    attempt's result, in the order asked. Needs nothing of the batch's other chunks (it runs ahead of the dedup)."""
    scenario_template, statement_template = templates
    results: list[LLMResult] = []

    def scenario_request(c: _Config, seed: int | None) -> LLMRequest:
        messages = scenario_template.render(features=features_prompt(c.offered))
        return LLMRequest.of("compose", messages, scenario_template.id, c.config_id, seed)

    def scenario_answer(c: _Config, result: LLMResult) -> bool:
        c.scenario, c.scenario_call_id = (
            parse_answer(result, lambda t: parse_scenario(t, [f.name for f in c.offered])),
            result.call_id,
        )
        c.scenario_attempts += 1
        return isinstance(c.scenario, Failure) and c.scenario.status in REASKED_SCENARIO

    def statement_request(c: _Config, seed: int | None) -> LLMRequest:
        messages = _statement_prompt(statement_template, c.style, c.scenario)
        return LLMRequest.of("compose", messages, statement_template.id, c.config_id, seed)

    def statement_answer(c: _Config, result: LLMResult) -> bool:
        c.statement, c.statement_call_id = parse_answer(result, lambda t: parse_statement(t, c.style)), result.call_id
        c.statement_attempts += 1
        if isinstance(c.statement, Statement):
            used = [(categories[i], names[i]) for i in used_feature_ids(c.scenario, c.offered)]
            leaks = leaked_terms(c.statement.statement, used)
            return bool(leaks)  # the composer marks it a leak if this was the last attempt
        return c.statement.status in REASKED_STATEMENT

    attempts = settings.max_attempts
    _with_attempts(chunk, scenario_request, scenario_answer, ask, scenario_meter, len(chunk), attempts, results)
    ready = [c for c in chunk if isinstance(c.scenario, Scenario)]
    _with_attempts(ready, statement_request, statement_answer, ask, statement_meter, len(chunk), attempts, results)
    return results


def _with_attempts(
    pending: list[_Config],
    request: Callable[[_Config, int | None], LLMRequest],
    answered: Callable[[_Config, LLMResult], bool],
    ask: Callable[[list[LLMRequest], Any], list[LLMResult]],
    meter: StageProgress,
    units: int,
    max_attempts: int,
    results: list[LLMResult],
) -> None:
    """Ask for `pending`, then again for those whose answer `answered` says to ask again, up to max_attempts. On
    the stage's meter the first attempt covers the chunk's `units` configurations, a re-ask adds requests only."""
    for attempt in range(1, max_attempts + 1):
        if not pending:
            break
        answers = ask([request(c, attempt_seed(attempt)) for c in pending], meter.part(units if attempt == 1 else 0))
        results += answers
        pending = [c for c, result in zip(pending, answers) if answered(c, result)]


def _statement_prompt(template: PromptTemplate, style: str, scenario: Scenario) -> Any:
    return template.render(
        style=style,
        style_guide=STYLE_GUIDES[style],
        selected=", ".join(scenario.selected),
        strategy=scenario.integration_strategy,
        scenario=scenario.scenario,
    )
