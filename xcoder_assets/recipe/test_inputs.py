"""test_inputs: what the LLM-written generator and validator of a problem make of its test inputs.

The generator is run once per job (JSON `{"seed", "kind", "index"}` on stdin: kinds small, random,
max); every input it prints is checked by the validator; the statement's examples are tests too.
An input is `valid`, `invalid` (the validator's message), `oversized`, `duplicate` (the same text
as an earlier case) or `generator_error`; a problem with fewer than `min_valid` valid inputs is
marked `too_few_inputs`. Running the programs is the caller's (in the sandbox).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal, Sequence

from xcoder_assets.recipe.failure import Failure
from xcoder_assets.store.ids import content_hash, make_id

InputStatus = Literal["valid", "invalid", "duplicate", "oversized", "generator_error"]
GeneratorStatus = Literal["ok", "too_few_inputs", "parse_error", "truncated", "llm_error"]
KINDS = ("small", "random", "max")


def prompt_values(row: dict[str, Any], question: str) -> dict[str, str]:
    """The write_tests template's values for a problems row (question: the rendered statement)."""
    if row["style"] == "leetcode":
        instruction = (
            "Print the function's arguments, one JSON value per line, in the order of the signature "
            f"`{row['signature']}`."
        )
    else:
        instruction = "Print the input exactly in the format the statement gives."
    return {
        "question": question,
        "constraints": row["constraints"] or "(see the statement)",
        "input_instruction": instruction,
    }


@dataclass(frozen=True)
class GeneratorJob:
    kind: str
    index: int
    seed: int

    @property
    def stdin(self) -> str:
        return json.dumps({"seed": self.seed, "kind": self.kind, "index": self.index})


def generator_jobs(small: int, random: int, maximal: int, seed: int) -> list[GeneratorJob]:
    counts = dict(zip(KINDS, (small, random, maximal)))
    return [GeneratorJob(kind, i, seed) for kind in KINDS for i in range(counts[kind])]


@dataclass(frozen=True)
class Case:
    """A candidate test input before validation: from the statement (example) or a generator job."""

    kind: str
    index: int
    text: str | None
    failure: Failure | None = None  # the generator's run did not end normally


def cases_of(
    examples: Sequence[dict[str, str]],
    jobs: Sequence[GeneratorJob],
    generator_runs: Sequence[Any],
    include_examples: bool = True,
) -> list[Case]:
    """The examples, then one case per generator job (generator_runs: RunOutcome per job)."""
    cases = [Case("example", i, ex["input"]) for i, ex in enumerate(examples)] if include_examples else []
    for job, run in zip(jobs, generator_runs):
        if run.ended_normally:
            cases.append(Case(job.kind, job.index, run.stdout))
        else:
            cases.append(Case(job.kind, job.index, None, Failure("generator_error", run.describe())))
    return cases


def to_validate(cases: Sequence[Case]) -> list[str]:
    """The texts the validator runs on, in order (cases the generator failed on have none)."""
    return [c.text for c in cases if c.failure is None]


def classify(
    problem_id: str,
    cases: Sequence[Case],
    validator_runs: Sequence[Any],
    *,
    max_input_bytes: int,
    min_valid: int,
    call_id: str,
    generator: str,
    validator: str,
    run_id: str,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """test_inputs rows for one problem's cases (validator_runs: one RunOutcome per validated case, in
    order), and its test_inputs__generators row."""
    runs = iter(validator_runs)
    seen: set[str] = set()
    dropped: Counter = Counter()
    rows = []
    for case in cases:
        status: InputStatus = "valid"
        reason = None
        if case.failure is not None:
            status, reason = "generator_error", case.failure.reason
        else:
            run = next(runs)
            size = len(case.text.encode())
            key = content_hash(case.text)
            if not run.ended_normally:
                status, reason = "invalid", (run.stdout or run.stderr or run.describe()).strip()[:300]
            elif size > max_input_bytes:
                status, reason = "oversized", f"{size} bytes > {max_input_bytes}"
            elif key in seen:
                status, reason = "duplicate", "the same input as an earlier case"
            seen.add(key)
        if status != "valid":
            dropped[status] += 1
        rows.append(
            {
                "test_id": make_id("test", {"input": case.text, "kind": case.kind, "index": case.index}, [problem_id]),
                "problem_id": problem_id,
                "kind": case.kind,
                "case_index": case.index,
                "status": status,
                "reason": reason,
                "input": case.text,
                "input_bytes": len(case.text.encode()) if case.text else 0,
                "generator_call_id": call_id,
                "run_id": run_id,
            }
        )
    valid = sum(r["status"] == "valid" for r in rows)
    enough = valid >= min_valid
    generator_row = {
        "problem_id": problem_id,
        "status": "ok" if enough else "too_few_inputs",
        "reason": None if enough else f"{valid} valid inputs (< {min_valid})",
        "valid_inputs": valid,
        "dropped_json": json.dumps(dict(dropped)),
        "generator": generator,
        "validator": validator,
        "llm_call_id": call_id,
        "run_id": run_id,
    }
    return rows, generator_row


def failed_generator_row(problem_id: str, failure: Failure, call_id: str, run_id: str) -> dict[str, Any]:
    """The generators row of a problem whose answer gave no programs (llm_error, truncated, parse_error)."""
    return {
        "problem_id": problem_id,
        "status": failure.status,
        "reason": failure.reason,
        "valid_inputs": 0,
        "dropped_json": "{}",
        "generator": None,
        "validator": None,
        "llm_call_id": call_id,
        "run_id": run_id,
    }


def dropped_share(rows: Sequence[dict[str, Any]]) -> float:
    """Generated inputs (not the examples) that were dropped, over all generated inputs."""
    generated = [r for r in rows if r["kind"] != "example"]
    return sum(r["status"] != "valid" for r in generated) / len(generated) if generated else 0.0
