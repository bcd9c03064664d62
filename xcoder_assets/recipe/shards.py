"""training_shards and training_mixtures: verified solutions as SFT and RL data a trainer reads.

One SFT example per kept verified solution: the user turn is the problem exactly as candidate_solutions
asked it (the `solve` template, LiveCodeBench's prompt), the assistant turn the candidate's reasoning in
a `<think>` block and its code in one python block. Each example goes through, in order:
deduplication (across problems by statement, across the solutions of one problem by program),
decontamination against the benchmark, selection (`keep`, `max_per_problem`, the style mix); every
example that does not reach the shards stays a row with its status and reason.

The layout on disk, which recipe/shard_manifest.py reads (for the trainer too):
`<root>/<shards_version>/manifest.json`, `sft/<format>/<split>-<NNNNN>.<jsonl|parquet>`,
`rl/<split>-<NNNNN>.<jsonl|parquet>`. Nothing in a file depends on the run (no run id, no clock), so the same
inputs write the same bytes. training_shards builds it one generation batch at a time (recipe/shard_index.py):
each batch's part is such a folder, and a version links the parts' files under these names.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Literal, Mapping, Protocol, Sequence, TypeVar

import polars as pl

from xcoder_assets.recipe.candidates import prompt_values
from xcoder_assets.recipe.composition import problem_question
from xcoder_assets.recipe.decontamination import DecontaminationSettings, Decontaminator, Flag, Prepared
from xcoder_assets.recipe.dedup import EarlierItems, deduplicate, deduplicate_solutions
from xcoder_assets.recipe.prompts import PromptTemplate
from xcoder_assets.recipe.shard_manifest import (  # noqa: F401  (ShardInputError, MIXTURE_LAYOUT: re-exported)
    MANIFEST,
    ManifestFile,
    MIXTURE_LAYOUT,
    ShardInputError,
    check_files,
    read_manifest,
    read_mixture_manifest,
)
from xcoder_assets.sandbox.lcb_format import decode_private_tests
from xcoder_assets.store.ids import content_hash, make_id, file_sha256
from xcoder_assets.store.parquet import write_text
from xcoder_assets.store.streaming import LinesWriter, RowsParquetWriter

ExampleStatus = Literal["kept", "duplicate", "contaminated", "not_selected"]
Split = Literal["train", "validation"]
SFT_FORMATS = ("messages", "query_response", "sharegpt")
FORMATS = (*SFT_FORMATS, "rl")
CONTAINERS = ("jsonl", "parquet")
LAYOUT = "xcoder-shards/1"  # part of every shards_version: a layout change never reuses an old folder
ESTIMATE_NAME = "estimate: ceil(characters / 4) (no tokenizer configured)"
# The recipe's RL reward (REFERENCE 1): 5 x fraction of up to 10 sampled tests passed, -2 for no code.
REWARD = {"kind": "sandbox_pass_rate", "scale": 5.0, "no_code": -2.0, "max_tests": 10}


@dataclass(frozen=True)
class ShardSettings:
    keep: Literal["golden", "all"] = "all"
    max_per_problem: int = 8
    include_reasoning: bool = True
    include_system: bool = True
    style_mix: Mapping[str, float] | None = None  # style -> share of problems; None: as verified
    validation_share: float = 0.1
    shard_size: int = 10_000
    containers: tuple[str, ...] = CONTAINERS
    tokenizer: str | None = None
    problem_near_threshold: float = 0.8
    solution_near_threshold: float = 0.9
    decontamination: DecontaminationSettings = field(default_factory=DecontaminationSettings)

    def __post_init__(self) -> None:
        if self.keep not in ("golden", "all"):
            raise ShardInputError(f"setting keep: 'golden' or 'all', got {self.keep!r}")
        if self.max_per_problem < 1:
            raise ShardInputError(f"setting max_per_problem: at least 1, got {self.max_per_problem}")
        if not 0.0 <= self.validation_share < 1.0:
            raise ShardInputError(f"setting validation_share: in [0, 1), got {self.validation_share}")
        if self.shard_size < 1:
            raise ShardInputError(f"setting shard_size: at least 1 row per shard, got {self.shard_size}")
        bad = [c for c in self.containers if c not in CONTAINERS] or ([] if self.containers else ["(none)"])
        if bad:
            raise ShardInputError(f"setting containers: each of {', '.join(CONTAINERS)}, got {list(self.containers)}")
        if self.style_mix is not None:
            if any(w < 0 for w in self.style_mix.values()) or not sum(self.style_mix.values()):
                raise ShardInputError(f"setting style_mix: non-negative shares, not all 0, got {dict(self.style_mix)}")
        for name in ("problem_near_threshold", "solution_near_threshold"):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ShardInputError(f"setting {name}: in (0, 1], got {getattr(self, name)}")

    def record(self) -> dict[str, Any]:
        out = asdict(self)
        out["containers"] = list(self.containers)
        out["style_mix"] = dict(self.style_mix) if self.style_mix is not None else None
        return out


# ---- the examples -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceExample:
    """A verified solution with what its example is made of."""

    verified_id: str
    problem_id: str
    candidate_id: str
    is_golden: bool
    sample_index: int
    style: str
    question: str  # the problem as a contestant reads it (what dedup and decontamination compare)
    system: str
    prompt: str  # the user turn, as candidate_solutions sent it
    reasoning: str
    code: str


def prompt_messages(problem: Mapping[str, Any], template: PromptTemplate) -> list[dict[str, str]]:
    """The solve prompt of a problems row, exactly as candidate_solutions renders it."""
    return template.render(**prompt_values(dict(problem), problem_question(dict(problem))))


def source_examples(
    verified: Iterable[Mapping[str, Any]],
    candidates: Mapping[str, Mapping[str, Any]],
    problems: Mapping[str, Mapping[str, Any]],
    template: PromptTemplate,
) -> list[SourceExample]:
    """One SourceExample per verified row (status verified), joined with its candidate and problem."""
    out, prompts = [], {}
    for row in verified:
        if row["status"] != "verified":
            continue
        problem = problems.get(row["problem_id"])
        cand = candidates.get(row["candidate_id"])
        if problem is None or cand is None:
            missing = "problems" if problem is None else "candidate_solutions"
            raise ShardInputError(
                f"verified solution {row['verified_id']}: its {missing} row is missing "
                f"(re-materialize verified_solutions after {missing})"
            )
        if row["problem_id"] not in prompts:
            prompts[row["problem_id"]] = prompt_messages(problem, template)
        system, user = prompts[row["problem_id"]]
        out.append(
            SourceExample(
                verified_id=row["verified_id"],
                problem_id=row["problem_id"],
                candidate_id=row["candidate_id"],
                is_golden=bool(row["is_golden"]),
                sample_index=int(cand.get("sample_index") or 0),
                style=problem.get("style") or "",
                question=problem_question(dict(problem)),
                system=system["content"],
                prompt=user["content"],
                reasoning=(cand.get("reasoning") or "").strip(),
                code=row["code"] or "",
            )
        )
    return out


def response_text(reasoning: str, code: str, include_reasoning: bool) -> str:
    block = f"```python\n{code.rstrip()}\n```"
    return f"<think>\n{reasoning}\n</think>\n\n{block}" if include_reasoning and reasoning else block


@dataclass
class ExampleOutcome:
    source: SourceExample
    example_id: str
    response: str
    status: ExampleStatus = "kept"
    reason: str | None = None
    duplicate_of: str | None = None
    duplicate_score: float | None = None
    flag: Flag | None = None
    rank: int = 0  # order within its problem: golden first, then by sample
    split: Split = "train"


def split_of(problem_id: str, validation_share: float) -> Split:
    """Stable by problem id alone: a problem's examples never straddle the split, whatever else changes."""
    point = int(hashlib.sha256(f"split:{problem_id}".encode()).hexdigest()[:12], 16) / float(1 << 48)
    return "validation" if point < validation_share else "train"


def task_order(problem_id: str) -> str:
    """A stable pseudo-random order of problems (shards mix styles; mixture prefixes are a fair sample)."""
    return hashlib.sha256(f"order:{problem_id}".encode()).hexdigest()


@dataclass
class Plan:
    outcomes: list[ExampleOutcome]
    flags_by_problem: dict[str, Flag]
    benchmark_problems: int
    # the problems dedup kept (not duplicates of an earlier one), with what an index of them needs
    unique_problems: dict[str, Prepared] = field(default_factory=dict)

    def kept(self) -> list[ExampleOutcome]:
        return [o for o in self.outcomes if o.status == "kept"]


def plan_examples(
    sources: Sequence[SourceExample],
    settings: ShardSettings,
    decontaminator: Decontaminator,
    earlier: EarlierItems | None = None,
) -> Plan:
    """Every example's fate: duplicate, contaminated, not selected, or kept (with its split). `earlier`: the
    problems earlier batches kept (recipe/shard_index.py), which win over these when they repeat."""
    by_problem: dict[str, list[SourceExample]] = {}
    for s in sorted(sources, key=lambda s: (s.problem_id, not s.is_golden, s.sample_index, s.verified_id)):
        by_problem.setdefault(s.problem_id, []).append(s)
    outcomes: dict[str, list[ExampleOutcome]] = {}
    for pid, group in by_problem.items():
        outcomes[pid] = []
        for rank, s in enumerate(group):
            response = response_text(s.reasoning, s.code, settings.include_reasoning)
            example_id = make_id(
                "sft",
                {
                    "system": s.system if settings.include_system else "",
                    "prompt": content_hash(s.prompt),
                    "response": content_hash(response),
                },
                [s.verified_id],
            )
            outcomes[pid].append(
                ExampleOutcome(s, example_id, response, rank=rank, split=split_of(pid, settings.validation_share))
            )
    problem_ids = list(by_problem)
    questions = [by_problem[pid][0].question for pid in problem_ids]
    prepared = decontaminator.prepare(questions)

    # 1. duplicate problems (statements), then duplicate solutions within each remaining problem
    verdicts = deduplicate(
        [(pid, p.segments) for pid, p in zip(problem_ids, prepared)],
        threshold=settings.problem_near_threshold,
        shingle=settings.decontamination.shingle,
        num_perm=settings.decontamination.num_perm,
        signatures_of=[p.signature for p in prepared],
        sets_of=[p.shingles for p in prepared],
        earlier=earlier,
    )
    for pid in problem_ids:
        verdict = verdicts[pid]
        if verdict.status != "unique":
            for o in outcomes[pid]:
                o.status, o.reason = "duplicate", f"{verdict.status}_problem"
                o.duplicate_of, o.duplicate_score = verdict.duplicate_of, verdict.score
            continue
        solutions = deduplicate_solutions(
            [(o.example_id, o.source.code) for o in outcomes[pid]], threshold=settings.solution_near_threshold
        )
        for o in outcomes[pid]:
            v = solutions[o.example_id]
            if v.status != "unique":
                o.status, o.reason = "duplicate", f"{v.status}_solution"
                o.duplicate_of, o.duplicate_score = v.duplicate_of, v.score

    # 2. decontamination: every problem is checked (a duplicate's flag is recorded too)
    flags = {
        pid: flag
        for pid, flag in zip(
            problem_ids, decontaminator.check_many([(pid, q) for pid, q in zip(problem_ids, questions)], prepared)
        )
        if flag is not None
    }
    for pid, flag in flags.items():
        for o in outcomes[pid]:
            o.flag = flag
            if o.status == "kept":
                o.status, o.reason = "contaminated", f"{flag.method} match with benchmark {flag.benchmark_id}"

    # 3. selection: keep golden only or up to max_per_problem, then the style mix over problems
    for pid in problem_ids:
        chosen = 0
        for o in outcomes[pid]:
            if o.status != "kept":
                continue
            if settings.keep == "golden" and not o.source.is_golden:
                o.status, o.reason = "not_selected", "keep=golden: not the golden solution"
            elif chosen >= settings.max_per_problem:
                o.status, o.reason = "not_selected", f"beyond max_per_problem={settings.max_per_problem}"
            else:
                chosen += 1
    if settings.style_mix is not None:
        _apply_style_mix(outcomes, settings.style_mix)
    flat = [o for pid in problem_ids for o in outcomes[pid]]
    unique = {pid: p for pid, p in zip(problem_ids, prepared) if verdicts[pid].status == "unique"}
    return Plan(flat, flags, len(decontaminator.benchmark), unique)


def _apply_style_mix(outcomes: dict[str, list[ExampleOutcome]], mix: Mapping[str, float]) -> None:
    """Keep the most problems whose styles hold the asked shares (each style's first ones in task order)."""
    total = sum(mix.values())
    shares = {style: w / total for style, w in mix.items() if w > 0}
    live: dict[str, list[str]] = {}
    for pid, group in outcomes.items():
        if any(o.status == "kept" for o in group):
            live.setdefault(group[0].source.style, []).append(pid)
    size = min((len(live.get(style, [])) / share for style, share in shares.items()), default=0.0)
    keep: set[str] = set()
    for style, share in shares.items():
        keep.update(sorted(live.get(style, []), key=task_order)[: math.floor(size * share + 1e-9)])
    for style, pids in live.items():
        for pid in pids:
            if pid in keep:
                continue
            for o in outcomes[pid]:
                if o.status == "kept":
                    o.status, o.reason = "not_selected", f"style_mix: {style} problems beyond their share"


# ---- the files ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenCounter:
    name: str
    kind: Literal["huggingface", "estimate"]
    count: Callable[[str], int]


def load_token_counter(name: str | None) -> TokenCounter:
    """A Hugging Face tokenizer (name or local path) through transformers.AutoTokenizer when installed, else
    the tokenizers library; with none configured, a named estimate. A tokenizer that cannot be loaded is
    one ShardInputError naming the setting."""
    if not name:
        return TokenCounter(ESTIMATE_NAME, "estimate", lambda text: math.ceil(len(text) / 4))
    try:
        from transformers import AutoTokenizer  # type: ignore[import-not-found]
    except ImportError:
        AutoTokenizer = None
    try:
        if AutoTokenizer is not None:
            tok = AutoTokenizer.from_pretrained(name)
            return TokenCounter(name, "huggingface", lambda text: len(tok.encode(text, add_special_tokens=False)))
        from tokenizers import Tokenizer

        path = Path(name)
        if path.is_dir():
            path = path / "tokenizer.json"
        raw = Tokenizer.from_file(str(path)) if path.is_file() else Tokenizer.from_pretrained(name)
        return TokenCounter(name, "huggingface", lambda text: len(raw.encode(text, add_special_tokens=False).ids))
    except ImportError:
        raise ShardInputError(f"setting tokenizer={name!r}: neither transformers nor tokenizers is installed") from None
    except Exception as exc:  # each library raises its own types (OSError, ValueError, HTTP errors, Exception)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ShardInputError(
            f"setting tokenizer={name!r}: cannot load it as a Hugging Face tokenizer name or local path ({first})"
        ) from None


@dataclass(frozen=True)
class ShardExample:
    example_id: str
    problem_id: str
    split: Split
    system: str | None
    prompt: str
    response: str


@dataclass(frozen=True)
class RlProblem:
    example_id: str
    problem_id: str
    split: Split
    prompt: str
    mode: Literal["stdin", "functional"]
    func_name: str | None
    tests: tuple[tuple[str, str], ...]
    # set when `tests` was left out to bound memory (a problem's tests are megabytes): how many it has; the
    # shard writer reads them again from the batch's TestsSource
    n_tests: int | None = None

    @property
    def test_count(self) -> int:
        return len(self.tests) if self.n_tests is None else self.n_tests


class TestsSource(Protocol):
    """A batch's verified tests per problem, read for a few problems at a time (recipe/shard_index.py's
    BatchTests); a plain dict is one too, through `tests_for`."""

    def load(self, problem_ids: Sequence[str]) -> dict[str, tuple[tuple[str, str], ...]]: ...


TESTS_CHUNK = 16  # problems whose tests are read at a time (megabytes each)


def tests_for(
    tests_of: Mapping[str, tuple[tuple[str, str], ...]] | TestsSource, problem_ids: Sequence[str]
) -> dict[str, tuple[tuple[str, str], ...]]:
    if isinstance(tests_of, Mapping):
        return {pid: tests_of[pid] for pid in problem_ids if pid in tests_of}
    return tests_of.load(problem_ids)


def example_of(o: ExampleOutcome, include_system: bool) -> ShardExample:
    return ShardExample(
        o.example_id,
        o.source.problem_id,
        o.split,
        o.source.system if include_system else None,
        o.source.prompt,
        o.response,
    )


def _messages(e: ShardExample) -> list[dict[str, str]]:
    head = [{"role": "system", "content": e.system}] if e.system else []
    return head + [{"role": "user", "content": e.prompt}, {"role": "assistant", "content": e.response}]


def format_row(e: ShardExample, fmt: str) -> dict[str, Any]:
    """One line of a shard in each format (a system prompt, when kept, is a `system`
    message in `messages`, and a `system` field beside the other two formats)."""
    base = {"example_id": e.example_id, "problem_id": e.problem_id}
    if fmt == "messages":
        return {**base, "messages": _messages(e)}
    extra = {"system": e.system} if e.system else {}
    if fmt == "query_response":
        return {**base, "query": e.prompt, "response": e.response, **extra}
    if fmt == "sharegpt":
        return {
            **base,
            "conversations": [{"from": "human", "value": e.prompt}, {"from": "gpt", "value": e.response}],
            **extra,
        }
    raise ValueError(f"unknown SFT format {fmt!r}")


def rl_row(p: RlProblem) -> dict[str, Any]:
    return {
        "example_id": p.example_id,
        "problem_id": p.problem_id,
        "prompt": [{"role": "user", "content": p.prompt}],
        "mode": p.mode,
        "func_name": p.func_name,
        "tests": [{"input": i, "output": o} for i, o in p.tests],
        "reward": dict(REWARD),
    }


_MSG = pl.List(pl.Struct({"role": pl.String, "content": pl.String}))
PARQUET_SCHEMAS = {
    "messages": pl.Schema({"example_id": pl.String, "problem_id": pl.String, "messages": _MSG}),
    "query_response": pl.Schema(
        {
            "example_id": pl.String,
            "problem_id": pl.String,
            "query": pl.String,
            "response": pl.String,
            "system": pl.String,
        }
    ),
    "sharegpt": pl.Schema(
        {
            "example_id": pl.String,
            "problem_id": pl.String,
            "conversations": pl.List(pl.Struct({"from": pl.String, "value": pl.String})),
            "system": pl.String,
        }
    ),
    "rl": pl.Schema(
        {
            "example_id": pl.String,
            "problem_id": pl.String,
            "prompt": _MSG,
            "mode": pl.String,
            "func_name": pl.String,
            "tests": pl.List(pl.Struct({"input": pl.String, "output": pl.String})),
            "reward": pl.Struct({"kind": pl.String, "scale": pl.Float64, "no_code": pl.Float64, "max_tests": pl.Int64}),
        }
    ),
}


def _row_tokens(row: dict[str, Any], fmt: str, counter: TokenCounter) -> int:
    if fmt == "messages":
        return sum(counter.count(m["content"]) for m in row["messages"])
    if fmt == "query_response":
        return counter.count(row["query"]) + counter.count(row["response"]) + counter.count(row.get("system") or "")
    if fmt == "sharegpt":
        return sum(counter.count(c["value"]) for c in row["conversations"]) + counter.count(row.get("system") or "")
    return counter.count(row["prompt"][0]["content"])


def _write_rows(
    folder: Path,
    rel_dir: str,
    fmt: str,
    split: str,
    rows: Iterable[dict[str, Any]],
    settings: ShardSettings,
    counter: TokenCounter,
) -> list[dict[str, Any]]:
    """Rows (read as they come: RL rows carry megabytes of tests) into shard files of shard_size rows, each
    in every container: JSONL line by line, Parquet in row groups that depend on the rows alone."""
    files: list[dict[str, Any]] = []
    number, written, tokens, open_files = 0, 0, 0, {}

    def finish() -> None:
        for container, writer in open_files.items():
            path = writer.close()
            entry = {"path": f"{rel_dir}/{split}-{number:05d}.{container}", "format": fmt, "split": split}
            files.append(
                {**entry, "container": container, "rows": written, "sha256": file_sha256(path), "tokens": tokens}
            )

    try:
        for row in rows:
            if not open_files:
                stem = folder / rel_dir / f"{split}-{number:05d}"
                for container in settings.containers:
                    path = stem.with_name(f"{stem.name}.{container}")
                    open_files[container] = (
                        LinesWriter(path) if container == "jsonl" else RowsParquetWriter(path, PARQUET_SCHEMAS[fmt])
                    )
            line = json.dumps(row, ensure_ascii=False) + "\n"
            for writer in open_files.values():
                writer.write_line(line) if isinstance(writer, LinesWriter) else writer.write(row, len(line))
            written, tokens = written + 1, tokens + _row_tokens(row, fmt, counter)
            if written == settings.shard_size:
                finish()
                number, written, tokens, open_files = number + 1, 0, 0, {}
        if open_files:
            finish()
    except BaseException:
        for writer in open_files.values():
            writer.abort()
        raise
    return files


def rl_rows(
    problems: Sequence[RlProblem], tests_of: Mapping[str, Any] | TestsSource | None
) -> Iterator[dict[str, Any]]:
    """The RL shard rows of `problems`, in order; a problem whose tests were left out has them read again from
    `tests_of`, TESTS_CHUNK problems at a time."""
    for start in range(0, len(problems), TESTS_CHUNK):
        chunk = problems[start : start + TESTS_CHUNK]
        wanted = [p.problem_id for p in chunk if p.n_tests and not p.tests]
        if wanted and tests_of is None:
            raise ShardInputError(f"problem {wanted[0]}: its RL tests were left out and no tests source was given")
        loaded = tests_for(tests_of, wanted) if wanted else {}
        for p in chunk:
            if p.problem_id in wanted:
                if len(loaded.get(p.problem_id, ())) != p.n_tests:
                    raise ShardInputError(f"problem {p.problem_id}: its tests changed while the shards were written")
                p = replace(p, tests=loaded[p.problem_id], n_tests=None)
            yield rl_row(p)


def write_layout(
    folder: Path,
    version: str,
    examples: Sequence[ShardExample],
    rl: Sequence[RlProblem],
    settings: ShardSettings,
    counter: TokenCounter,
    created_from: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
    tests_of: Mapping[str, Any] | TestsSource | None = None,
) -> dict[str, Any]:
    """Write the shards and the manifest into `folder`; return the manifest. Rows are in a stable order
    (problems in task order, a problem's examples by rank), so the same examples give the same bytes. RL
    problems whose tests were left out (`rl_problems(..., keep_tests=False)`) have them read from `tests_of`."""
    folder = Path(folder)
    files: list[dict[str, Any]] = []
    order = {e.example_id: i for i, e in enumerate(examples)}  # the caller's rank order within a problem
    totals: dict[str, Any] = {"examples": {}, "problems": {}, "rl_problems": {}, "tokens": {}}
    first = settings.containers[0]  # token totals count each chunk once, not once per container
    for split in ("train", "validation"):
        part = sorted(
            [e for e in examples if e.split == split], key=lambda e: (task_order(e.problem_id), order[e.example_id])
        )
        totals["examples"][split] = len(part)
        totals["problems"][split] = len({e.problem_id for e in part})
        for fmt in SFT_FORMATS:
            written = _write_rows(
                folder, f"sft/{fmt}", fmt, split, (format_row(e, fmt) for e in part), settings, counter
            )
            files += written
            if fmt == "messages":
                totals["tokens"][f"sft_{split}"] = sum(f["tokens"] for f in written if f["container"] == first)
        rl_part = sorted([p for p in rl if p.split == split], key=lambda p: task_order(p.problem_id))
        totals["rl_problems"][split] = len(rl_part)
        written = _write_rows(folder, "rl", "rl", split, rl_rows(rl_part, tests_of), settings, counter)
        files += written
        totals["tokens"][f"rl_prompt_{split}"] = sum(f["tokens"] for f in written if f["container"] == first)
    manifest = manifest_of(version, created_from, settings, counter, files, totals, extra)
    write_manifest(manifest, folder / MANIFEST)
    return manifest


def manifest_of(
    version: str,
    created_from: Mapping[str, Any],
    settings: Any,
    counter: Any,
    files: list[dict[str, Any]],
    totals: dict[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A shards version's manifest.json: what made it, its settings and tokenizer, its files and totals."""
    return {
        "shards_version": version,
        "created_from": dict(created_from),
        "settings": settings.record(),
        "tokenizer": {"name": counter.name, "kind": counter.kind},
        "files": files,
        "totals": totals,
        **({"mixture": dict(extra)} if extra else {}),
    }


def write_manifest(manifest: dict[str, Any], path: Path) -> None:
    write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n", path)


def shards_version(settings: ShardSettings, created_from: Mapping[str, Any], tokenizer: str) -> str:
    return content_hash(
        {"layout": LAYOUT, "settings": settings.record(), "created_from": dict(created_from), "tokenizer": tokenizer}
    )


def verify_manifest(folder: Path) -> dict[str, Any]:
    """What a trainer does first: every file's sha256 and row count as the manifest says (a ManifestError, a
    ShardInputError, naming the file otherwise). The manifest as written."""
    return check_files(read_manifest(folder)).data


# ---- RL problems ----------------------------------------------------------------------------------


def rl_tests_from_lcb_row(record: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Verified tests of a problem from lcb/verified_problems.jsonl (public then private; outputs are the
    golden solution's, which the vote confirmed)."""
    out = []
    for name in ("public_test_cases", "private_test_cases"):
        value = record.get(name) or "[]"
        if isinstance(value, str):  # private tests are shipped as base64(zlib(pickle(json))), as the dataset's
            value = decode_private_tests(value) if name == "private_test_cases" else json.loads(value)
        for case in value:
            out.append((case["input"], case["output"]))
    return tuple(out)


def rl_problems(
    kept: Sequence[ExampleOutcome],
    problems: Mapping[str, Mapping[str, Any]],
    tests_of: Mapping[str, tuple[tuple[str, str], ...]] | TestsSource,
    keep_tests: bool = True,
) -> tuple[list[RlProblem], list[str]]:
    """One RL problem per problem with a kept example; problems without verified tests are returned apart.
    Tests are read TESTS_CHUNK problems at a time; without `keep_tests` they are left out of the RL problems
    (only counted and hashed into the id), for write_layout to read again."""
    first: dict[str, ExampleOutcome] = {}
    for o in kept:
        first.setdefault(o.source.problem_id, o)
    out, without_tests, pids = [], [], list(first)
    for start in range(0, len(pids), TESTS_CHUNK):
        chunk = pids[start : start + TESTS_CHUNK]
        loaded = tests_for(tests_of, chunk)
        for pid in chunk:
            o, tests = first[pid], loaded.get(pid, ())
            if not tests:
                without_tests.append(pid)
                continue
            func = problems[pid].get("function_name") or None
            out.append(
                RlProblem(
                    make_id("rl", {"tests": content_hash(tests), "prompt": content_hash(o.source.prompt)}, [pid]),
                    pid,
                    o.split,
                    o.source.prompt,
                    "functional" if func else "stdin",
                    func,
                    tests if keep_tests else (),
                    None if keep_tests else len(tests),
                )
            )
    return out, without_tests


# ---- mixtures -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MixtureSpec:
    task_share: float
    solutions_per_task: int

    @property
    def name(self) -> str:
        return f"tasks{round(self.task_share * 100):03d}-sols{self.solutions_per_task}"

    def __post_init__(self) -> None:
        if not 0.0 < self.task_share <= 1.0:
            raise ShardInputError(f"mixture task share: in (0, 1], got {self.task_share}")
        if self.solutions_per_task < 1:
            raise ShardInputError(f"mixture solutions per task: at least 1, got {self.solutions_per_task}")


class Row(Protocol):
    """What choosing a mixture needs of a row: its id, its task (problem) and its split."""

    @property
    def example_id(self) -> str: ...

    @property
    def problem_id(self) -> str: ...

    @property
    def split(self) -> str: ...


@dataclass(frozen=True)
class RowRef:
    """A row of a shards folder, by id (what a mixture's manifest lists)."""

    example_id: str
    problem_id: str
    split: Split


E = TypeVar("E", bound=Row)
R = TypeVar("R", bound=Row)


def mixture(examples: Sequence[E], rl: Sequence[R], spec: MixtureSpec) -> tuple[list[E], list[R]]:
    """A nested subset of the training split: the first ceil(share x tasks) tasks in task order, the first
    k examples of each (in rank order); a larger share or k holds every smaller one. The validation split
    is the same in every mixture, so their evaluations compare."""
    train_tasks = sorted({e.problem_id for e in examples if e.split == "train"}, key=task_order)
    chosen = set(train_tasks[: math.ceil(spec.task_share * len(train_tasks) - 1e-9)])
    taken: dict[str, int] = {}
    out = []
    for e in examples:  # already in rank order within each problem
        if e.split == "validation":
            out.append(e)
        elif e.problem_id in chosen and taken.get(e.problem_id, 0) < spec.solutions_per_task:
            taken[e.problem_id] = taken.get(e.problem_id, 0) + 1
            out.append(e)
    return out, [p for p in rl if p.split == "validation" or p.problem_id in chosen]


# A mixture is a manifest that names rows of a shards folder by id and refers to that folder's files by
# relative path and sha256: nine mixtures of one shards version copy none of its bytes (the RL tests alone
# can be most of them). Readers resolve it with `mixture_rows`; its layout is MIXTURE_LAYOUT.
SFT_IDS, RL_IDS = "sft", "rl"  # a mixture's id lists: SFT examples (every SFT format) and RL problems


def _id_group(fmt: str) -> str:
    return RL_IDS if fmt == "rl" else SFT_IDS


def _file_rows(path: Path, container: str, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    if container == "jsonl":
        with open(path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    return pl.read_parquet(path, columns=list(columns) if columns else None).to_dicts()


def shard_file_ids(folder: Path, manifest: Mapping[str, Any]) -> dict[str, list[str]]:
    """The example ids of every file a shards manifest lists, in file order. The containers of one shard hold
    the same rows, so each shard is read once, from its Parquet copy where there is one (only the id column)."""
    stems: dict[str, list[Mapping[str, Any]]] = {}
    for entry in manifest["files"]:
        stems.setdefault(entry["path"].rsplit(".", 1)[0], []).append(entry)
    out: dict[str, list[str]] = {}
    for entries in stems.values():
        source = next((e for e in entries if e["container"] == "parquet"), entries[0])
        ids = [r["example_id"] for r in _file_rows(Path(folder) / source["path"], source["container"], ["example_id"])]
        for entry in entries:
            out[entry["path"]] = ids
    return out


def write_mixture(
    folder: Path,
    shards_folder: Path,
    shards_manifest: Mapping[str, Any],
    file_ids: Mapping[str, Sequence[str]],
    spec: MixtureSpec,
    examples: Sequence[Row],
    rl: Sequence[Row],
    tokens: Mapping[str, int],
) -> dict[str, Any]:
    """Write `folder/manifest.json` for one mixture of a shards folder and return it; nothing else is written
    (anything an earlier layout left in `folder` is removed). It lists the chosen ids per split in the shards'
    row order, and every shards file holding a chosen row with its path (relative to `shards_dir`), sha256,
    rows and the rows and tokens chosen from it. `tokens`: tokens per id, as training_shards counted them."""
    folder, shards_folder = Path(folder), Path(shards_folder)
    chosen = {SFT_IDS: {e.example_id for e in examples}, RL_IDS: {p.example_id for p in rl}}
    ids: dict[str, dict[str, list[str]]] = {SFT_IDS: {}, RL_IDS: {}}
    files = []
    first = shards_manifest["settings"]["containers"][0]
    for entry in shards_manifest["files"]:
        group = _id_group(entry["format"])
        taken = [i for i in file_ids[entry["path"]] if i in chosen[group]]
        if entry["format"] in ("messages", "rl") and entry["container"] == first:  # one listing per row
            ids[group].setdefault(entry["split"], []).extend(taken)
        if taken:
            files.append({**entry, "selected": len(taken), "selected_tokens": sum(tokens[i] for i in taken)})
    for group, wanted in chosen.items():
        found = {i for split_ids in ids[group].values() for i in split_ids}
        if wanted - found:
            raise ShardInputError(
                f"{shards_folder}: {len(wanted - found)} {group} rows of mixture {spec.name} are in no shard file "
                f"(e.g. {sorted(wanted - found)[0]}): the shards folder and training_shards' rows disagree"
            )
    totals: dict[str, Any] = {"examples": {}, "problems": {}, "rl_problems": {}, "tokens": {}}
    for split in ("train", "validation"):
        sft_ids, rl_ids = ids[SFT_IDS].get(split, []), ids[RL_IDS].get(split, [])
        totals["examples"][split] = len(sft_ids)
        totals["problems"][split] = len({e.problem_id for e in examples if e.split == split})
        totals["rl_problems"][split] = len(rl_ids)
        totals["tokens"][f"sft_{split}"] = sum(tokens[i] for i in sft_ids)
        totals["tokens"][f"rl_prompt_{split}"] = sum(tokens[i] for i in rl_ids)
    manifest = {
        "layout": MIXTURE_LAYOUT,
        "mixture": {
            "name": spec.name,
            "task_share": spec.task_share,
            "solutions_per_task": spec.solutions_per_task,
        },
        "shards_version": shards_manifest["shards_version"],
        "shards_dir": Path(os.path.relpath(shards_folder.absolute(), folder.absolute())).as_posix(),
        "shards_manifest_sha256": file_sha256(shards_folder / MANIFEST),
        "created_from": shards_manifest["created_from"],
        "settings": shards_manifest["settings"],
        "tokenizer": shards_manifest["tokenizer"],
        "ids": ids,
        "files": files,
        "totals": totals,
    }
    if folder.exists():  # a folder of an earlier layout held copies of the shards: they go
        shutil.rmtree(folder)
    write_manifest(manifest, folder / MANIFEST)
    return manifest


def verify_mixture(folder: Path) -> dict[str, Any]:
    """A mixture's manifest, checked before anything trains on it: its shards folder is there with the same
    manifest, and every file it refers to lies inside that folder with the sha256 it had (one ManifestError
    naming the file otherwise). The manifest as written."""
    return read_mixture_manifest(folder).data


def mixture_rows(folder: Path, fmt: str, split: str = "train", container: str = "jsonl") -> list[dict[str, Any]]:
    """A mixture's rows of one format and split, read from its shards folder's files (those verified first: the
    shards manifest it was made from, and each file's sha256), in the order the manifest lists their ids.
    ShardInputError when a listed id is in none of the files."""

    def read_here(entry: ManifestFile) -> bool:
        return entry.format == fmt and entry.split == split and entry.container == container

    manifest = read_mixture_manifest(folder, only=read_here)  # not the other formats' files: the RL tests weigh most
    assert manifest.mixture is not None
    wanted = manifest.mixture.ids.get(_id_group(fmt), {}).get(split, [])
    keep = set(wanted)
    found: dict[str, dict[str, Any]] = {}
    for entry in manifest.files:
        if read_here(entry):
            path = manifest.files_root / entry.path
            rows = _file_rows(path, container)
            if len(rows) != entry.rows:
                raise ShardInputError(f"{path}: {len(rows)} rows, the manifest says {entry.rows}")
            found.update((r["example_id"], r) for r in rows if r["example_id"] in keep)
    missing = [i for i in wanted if i not in found]
    if missing:
        raise ShardInputError(
            f"{folder}: {len(missing)} {fmt} {split} rows are in none of its {container} shard files (e.g. {missing[0]})"
        )
    return [found[i] for i in wanted]
