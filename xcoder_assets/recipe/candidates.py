"""candidate_solutions: the solve role's samples, asked with LiveCodeBench's prompt, and what is usable.

An answer is usable (`ok`) only with exactly one python block that parses
(verification.extract_solution_code); the reasoning is kept apart from the code.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from xcoder_assets.llm.gateway import LLMRequest, LLMResult
from xcoder_assets.recipe.composition import problem_question
from xcoder_assets.recipe.prompts import PromptTemplate
from xcoder_assets.recipe.stage import Ask, Sample, Submit, submit_ahead
from xcoder_assets.recipe.verification import extract_solution_code
from xcoder_assets.present.figures import LLMFigures
from xcoder_assets.store.ids import make_id
from xcoder_assets.present.progress import LLM_COUNTS, StageProgress

LCB_STDIN_FORMAT = (
    "Read the inputs from stdin solve the problem and write the answer to stdout (do not directly test "
    "on the sample inputs). Enclose your code within delimiters as follows. Ensure that when the python "
    "program runs, it reads the inputs, runs the algorithm and writes output to STDOUT."
)
LCB_STARTER_FORMAT = (
    "You will use the following starter code to write the solution to the problem and enclose your "
    "code within delimiters."
)


def prompt_values(row: dict[str, Any], question: str) -> dict[str, str]:
    """The solve template's values for a problems row, as LiveCodeBench words them (stdin or starter code)."""
    starter = row["starter_code"] or ""
    return {
        "question": question,
        "format_instruction": LCB_STARTER_FORMAT if starter else LCB_STDIN_FORMAT,
        "starter": starter.rstrip() + "\n" if starter else "# YOUR CODE HERE",
    }


def candidate_row(problem_id: str, sample: int, result: Any, run_id: str) -> dict[str, Any]:
    """One candidate_solutions row from a solve call's result."""
    if failure := result.failure():
        (status, reason), code = failure, None
    else:
        extracted = extract_solution_code(result.content)
        status, reason, code = extracted.status, extracted.reason, extracted.code
    return {
        "candidate_id": make_id("cand", {"call": result.call_id, "sample": sample}, [problem_id]),
        "problem_id": problem_id,
        "sample_index": sample,
        "status": status,
        "reason": reason,
        "code": code,
        "reasoning": result.reasoning,
        "llm_call_id": result.call_id,
        "model": result.model,
        "run_id": run_id,
    }


@dataclass
class CandidatesTally:
    """What candidate_solutions' metadata and check report, counted chunk by chunk."""

    status: Counter = field(default_factory=Counter)
    reasoning_chars: int = 0
    unusable: Sample = field(default_factory=Sample)  # candidate ids
    llm: LLMFigures = field(default_factory=LLMFigures)

    @property
    def candidates(self) -> int:
        return sum(self.status.values())

    @property
    def usable_share(self) -> float:
        return self.status.get("ok", 0) / self.candidates if self.candidates else 0.0

    @property
    def mean_reasoning_chars(self) -> float:
        return round(self.reasoning_chars / self.candidates, 1) if self.candidates else 0.0


def make_candidates(
    chunks: Callable[[], Iterable[Sequence[dict[str, Any]]]],
    problems: int,
    template: PromptTemplate,
    per_problem: int,
    run_id: str,
    ask: Ask,
    write: Callable[[list[dict[str, Any]], list[LLMResult]], None],
    log: Callable[[str], Any],
    submit: Submit | None = None,
) -> CandidatesTally:
    """`per_problem` samples of the solve role for each problem (rows of the problems table, in chunks;
    `chunks()` starts over: with `submit`, every chunk's requests go to a provider batch API first); each
    chunk's rows and LLM results go to `write`."""
    tally = CandidatesTally()
    calls = StageProgress("candidate_solutions: LLM calls", log, problems, **LLM_COUNTS)

    def requests_of(rows: Sequence[dict[str, Any]]) -> list[LLMRequest]:
        requests = []
        for row in rows:
            messages = template.render(**prompt_values(row, problem_question(row)))
            for sample in range(per_problem):
                requests.append(LLMRequest.of("solve", messages, template.id, row["problem_id"], seed=sample))
        return requests

    submit_ahead(chunks, requests_of, submit)
    for rows in chunks():
        keys = [(row["problem_id"], sample) for row in rows for sample in range(per_problem)]
        results = ask(requests_of(rows), calls.part(len(rows)))
        made = [
            candidate_row(problem_id, sample, result, run_id) for (problem_id, sample), result in zip(keys, results)
        ]
        write(made, results)
        tally.status.update(r["status"] for r in made)
        tally.reasoning_chars += sum(len(r["reasoning"] or "") for r in made)
        tally.unusable.add(r["candidate_id"] for r in made if r["status"] != "ok")
        tally.llm += LLMFigures.of(results)
    calls.finish()
    return tally
