"""candidate_solutions rows from solve calls: usable only with exactly one python block that parses."""

from dataclasses import dataclass

from xcoder_assets.recipe import candidates


@dataclass
class Result:
    content: str = ""
    reasoning: str = ""
    error: str | None = None
    truncated: bool = False
    call_id: str = "call-1"
    model: str = "m"

    def failure(self):
        if self.error:
            return "llm_error", self.error
        if self.truncated:
            return "truncated", "answer cut off at max_tokens"
        return None


def test_candidate_rows_say_why_an_answer_is_unusable():
    ok = candidates.candidate_row("prob-1", 0, Result("```python\nprint(1)\n```", reasoning="think"), "r")
    assert ok["status"] == "ok" and ok["code"] == "print(1)\n" and ok["reasoning"] == "think"
    assert candidates.candidate_row("prob-1", 1, Result(truncated=True), "r")["status"] == "truncated"
    failed = candidates.candidate_row("prob-1", 2, Result(error="timeout"), "r")
    assert (failed["status"], failed["reason"], failed["code"]) == ("llm_error", "timeout", None)
    assert candidates.candidate_row("prob-1", 3, Result("no code"), "r")["status"] == "no_code_block"
    assert (
        ok["candidate_id"]
        != candidates.candidate_row("prob-1", 1, Result("```python\nprint(1)\n```"), "r")["candidate_id"]
    )


def test_prompt_values_use_livecodebench_wording():
    stdin = candidates.prompt_values({"starter_code": None}, "Q")
    assert stdin["format_instruction"] == candidates.LCB_STDIN_FORMAT and stdin["starter"] == "# YOUR CODE HERE"
    starter = candidates.prompt_values({"starter_code": "class Solution:\n    def f(self): ...  "}, "Q")
    assert starter["format_instruction"] == candidates.LCB_STARTER_FORMAT and starter["starter"].endswith("...\n")
