"""test_inputs: what the LLM-written generator and validator of a problem make of its test inputs.

The generator is run once per job (JSON `{"seed", "kind", "index"}` on stdin: kinds small, random,
max); every input it prints is checked by the validator; the statement's examples are tests too.
An input is `valid`, `invalid` (the validator's message), `oversized`, `duplicate` (the same text
as an earlier case) or `generator_error`; a problem with fewer than `min_valid` valid inputs is
marked `too_few_inputs`. Running the programs is the caller's (in the sandbox): `make_test_inputs`
takes "complete these requests" and "run these programs" as arguments and goes through the batch a
chunk of problems at a time, handing each chunk's rows to `write` and keeping only counts.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal, Sequence

from xcoder_assets.llm.gateway import LLMRequest, LLMResult
from xcoder_assets.recipe.composition import problem_question
from xcoder_assets.recipe.failure import Failure
from xcoder_assets.recipe.prompts import PromptTemplate
from xcoder_assets.recipe.stage import Ask, Run, Sample, Submit, prefetched, submit_ahead
from xcoder_assets.recipe.verification import extract_test_programs
from xcoder_assets.sandbox.runs import Program
from xcoder_assets.present.figures import LLMFigures, SandboxFigures
from xcoder_assets.store.ids import content_hash, make_id
from xcoder_assets.present.progress import LLM_COUNTS, SANDBOX_COUNTS, StageProgress

InputStatus = Literal["valid", "invalid", "duplicate", "oversized", "generator_error"]
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


def problem_seed(base_seed: int, problem_id: str) -> int:
    """The seed a problem's generator runs get: its own, so that two problems whose generators are the
    same program still get different inputs (and the run cache does not stand in for real runs)."""
    return int(content_hash({"seed": base_seed, "problem": problem_id})[:12], 16)


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


@dataclass(frozen=True)
class InputSettings:
    small_cases: int = 3
    random_cases: int = 6
    max_cases: int = 2
    include_examples: bool = True
    max_input_bytes: int = 4 << 20
    min_valid_inputs: int = 5
    seed: int = 42


@dataclass
class InputsTally:
    """What test_inputs' metadata and checks report, counted chunk by chunk (no row is kept)."""

    problems: int = 0
    problem_status: Counter = field(default_factory=Counter)
    input_status: Counter = field(default_factory=Counter)
    valid_counts: list[int] = field(default_factory=list)  # per problem that ran (one int each)
    generated: int = 0  # inputs from generator jobs (not the statement's examples)
    dropped: Sample = field(default_factory=Sample)  # generated inputs not kept: their test ids
    marked: Sample = field(default_factory=Sample)  # problems without enough inputs: (id, status, reason)
    llm: LLMFigures = field(default_factory=LLMFigures)
    generator_runs: SandboxFigures = field(default_factory=SandboxFigures)
    validator_runs: SandboxFigures = field(default_factory=SandboxFigures)

    def add(self, input_rows: Sequence[dict[str, Any]], generator_rows: Sequence[dict[str, Any]]) -> None:
        self.problems += len(generator_rows)
        self.problem_status.update(r["status"] for r in generator_rows)
        self.input_status.update(r["status"] for r in input_rows)
        self.valid_counts += [r["valid_inputs"] for r in generator_rows if r["status"] in ("ok", "too_few_inputs")]
        generated = [r for r in input_rows if r["kind"] != "example"]
        self.generated += len(generated)
        self.dropped.add(r["test_id"] for r in generated if r["status"] != "valid")
        self.marked.add((r["problem_id"], r["status"], r["reason"]) for r in generator_rows if r["status"] != "ok")

    @property
    def dropped_share(self) -> float:
        """Generated inputs (not the examples) that were dropped, over all generated inputs."""
        return self.dropped.count / self.generated if self.generated else 0.0


Write = Callable[[list[dict[str, Any]], list[dict[str, Any]], list[LLMResult]], None]


def make_test_inputs(
    chunks: Callable[[], Iterable[Sequence[dict[str, Any]]]],
    problems: int,
    template: PromptTemplate,
    settings: InputSettings,
    run_id: str,
    ask: Ask,
    run: Run,
    write: Write,
    log: Callable[[str], Any],
    submit: Submit | None = None,
) -> InputsTally:
    """The test inputs of `problems` problems (rows of the problems table, in chunks; `chunks()` starts
    over: with `submit`, every chunk's requests go to a provider batch API first): per chunk, ask
    for each problem's generator and validator, run the generator jobs and then the validator on what
    they printed, classify, and hand the rows to `write` (inputs, generator rows, LLM results)."""
    tally = InputsTally()
    calls = StageProgress("test_inputs: LLM calls", log, problems, **LLM_COUNTS)
    generating = StageProgress("test_inputs: generator runs", log, problems, **SANDBOX_COUNTS)
    validating = StageProgress("test_inputs: validator runs", log, problems, **SANDBOX_COUNTS)

    def requests_of(rows: Sequence[dict[str, Any]]) -> list[LLMRequest]:
        return [
            LLMRequest.of(
                "test_write", template.render(**prompt_values(r, problem_question(r))), template.id, r["problem_id"]
            )
            for r in rows
        ]

    def asked(rows: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[LLMResult]]:
        return list(rows), ask(requests_of(rows), calls.part(len(rows)))

    submit_ahead(chunks, requests_of, submit)
    for rows, results in prefetched(chunks(), asked):
        programs: dict[str, Any] = {}
        generator_rows = []
        for row, result in zip(rows, results):
            failure = Failure(*result.failure()) if result.failure() else None
            if failure is None:
                extracted = extract_test_programs(result.content)
                if extracted.generator:
                    programs[row["problem_id"]] = extracted
                else:
                    failure = Failure("parse_error", extracted.reason)
            if failure is not None:
                generator_rows.append(failed_generator_row(row["problem_id"], failure, result.call_id, run_id))
        ready = [(row, result) for row, result in zip(rows, results) if row["problem_id"] in programs]
        jobs = {
            row["problem_id"]: generator_jobs(
                settings.small_cases,
                settings.random_cases,
                settings.max_cases,
                problem_seed(settings.seed, row["problem_id"]),
            )
            for row, _ in ready
        }
        generated, generator_figures = run(
            "test_inputs: generator runs",
            [Program(programs[r["problem_id"]].generator) for r, _ in ready],
            [[job.stdin for job in jobs[r["problem_id"]]] for r, _ in ready],
            generating.part(len(rows)),
        )
        cases = [
            cases_of(json.loads(row["examples_json"]), jobs[row["problem_id"]], runs, settings.include_examples)
            for (row, _), runs in zip(ready, generated)
        ]
        del generated  # the generated inputs live on in `cases` only, until this chunk is written
        validated, validator_figures = run(
            "test_inputs: validator runs",
            [Program(programs[r["problem_id"]].validator) for r, _ in ready],
            [to_validate(c) for c in cases],
            validating.part(len(rows)),
        )
        input_rows = []
        for (row, result), problem_cases, verdicts in zip(ready, cases, validated):
            made, generator_row = classify(
                row["problem_id"],
                problem_cases,
                verdicts,
                max_input_bytes=settings.max_input_bytes,
                min_valid=settings.min_valid_inputs,
                call_id=result.call_id,
                generator=programs[row["problem_id"]].generator,
                validator=programs[row["problem_id"]].validator,
                run_id=run_id,
            )
            input_rows += made
            generator_rows.append(generator_row)
        write(input_rows, generator_rows, results)
        tally.add(input_rows, generator_rows)
        tally.llm += LLMFigures.of(results)
        tally.generator_runs += generator_figures
        tally.validator_runs += validator_figures
    for meter in (calls, generating, validating):
        meter.finish()
    return tally
