"""candidate_solutions: the solve role's samples, asked with LiveCodeBench's prompt, and what is usable.

An answer is usable (`ok`) only with exactly one python block that parses
(verification.extract_solution_code); the reasoning is kept apart from the code.
"""

from __future__ import annotations

from typing import Any, Literal

from xcoder_assets.recipe.verification import extract_solution_code
from xcoder_assets.store.ids import make_id

CandidateStatus = Literal["ok", "no_code_block", "multiple_code_blocks", "syntax_error", "truncated", "llm_error"]

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
