"""One lineage model and one renderer (present/lineage_view.py): the terminal's text and the UI's markdown come
from the same walk over the same model, so they show the same rows, calls and votes in the same order."""

from __future__ import annotations

import json
import re

import pytest
from markdown_it import MarkdownIt

from xcoder_assets.present import lineage_view as lv
from xcoder_assets.store import votes as vote_records

MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])
HOSTILE = "![x](http://127.0.0.1:9/x.png) [l](http://127.0.0.1:9/l) <img src=http://127.0.0.1:9/r.png>"

VER, CAND, PROB, SEED, GONE = (
    "ver-00000000000000a1",
    "cand-00000000000000b1",
    "prob-00000000000000c1",
    "seed-00000000000000d1",
    "test-00000000000000e1",
)
TESTS = [f"test-00000000000000f{i}" for i in range(4)]
SOLVE, COMPOSE = "call-0000000000000001", "call-0000000000000002"


def _step(row_id, asset, depth, parents=(), calls=(), summary=None, label=None):
    return {
        "row_id": row_id,
        "asset": asset,
        "depth": depth,
        "run_id": "run-1",
        "summary": summary or f"{asset} row",
        "label": label,
        "parent_ids": list(parents),
        "llm_call_ids": list(calls),
    }


def _call(call_id, template, content, cache_hit=False, error=None):
    return {
        "call_id": call_id,
        "template": template,
        "asset": "candidate_solutions",
        "role": "solve",
        "model": "sim-model",
        "cache_hit": cache_hit,
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "finish_reason": "stop",
        "error": error,
        "request_json": json.dumps({"messages": [{"role": "user", "content": f"Solve {template}"}]}),
        "reasoning": None,
        "content": content,
    }


def _votes() -> str:
    records = [
        vote_records.TestVoteRecord(TESTS[0], True, "h", 3, 4, 4, 0.75, None, {"h": 3}, False),
        vote_records.TestVoteRecord(TESTS[1], True, "h", 4, 4, 5, 1.0, None, {"h": 4}, True),
        vote_records.TestVoteRecord(TESTS[2], False, None, 1, 2, 4, 0.5, "tie", {"a": 1, "b": 1}, False),
    ]
    return json.dumps({r.test_id: r.entry() for r in records})


def lineage(answer: str = "```python\nprint(1)\n```") -> lv.Lineage:
    """A verified solution: its candidate (made by a solve call), four tests (three of a kind: a group in
    the short view), the problem (a compose call, shared with the candidate's line), the seed, and a
    parent re-materialized since (missing)."""
    chain = [
        _step(VER, "verified_solutions", 0, [CAND, *TESTS, GONE], summary="verified, 3/3 tests verified"),
        _step(CAND, "candidate_solutions", 1, [PROB], [SOLVE], summary=f"candidate {HOSTILE}"),
        *[_step(t, "test_inputs", 1, [PROB], label="random inputs from the test generator") for t in TESTS],
        _step(PROB, "problems", 2, [SEED], [COMPOSE], summary="A sum problem"),
        _step(SEED, "seed_problems", 3),
    ]
    calls = {SOLVE: _call(SOLVE, "solve@v1", answer), COMPOSE: _call(COMPOSE, "compose_problem@v1", "a problem")}
    return lv.lineage_of(VER, chain, calls, _votes(), mean_agreement=0.75)


def test_the_model_is_built_once_from_the_warehouse_rows():
    model = lineage()
    assert model.root.row_id == VER and [s.asset for s in model.ancestors][:1] == ["candidate_solutions"]
    assert model.missing_parents == (GONE,)
    assert [v.test_id for v in model.votes] == TESTS[:3] and model.votes[2].reason == "tie"
    assert model.calls[SOLVE].messages == (("user", "Solve solve@v1"),)
    with pytest.raises(ValueError, match="not among the steps"):
        lv.lineage_of("ver-00000000000000ff", [], {})


def test_short_text_is_one_line_per_ancestor_or_group_each_call_once():
    text = lv.render(lineage(), lv.TextWriter(), lv.Options(view="short", more="(more: --full)"))
    lines = text.splitlines()
    assert lines[0] == f"verified_solutions {VER}: verified, 3/3 tests verified  (run run-1)"
    assert lines[1].startswith(
        "  votes on 3 tests: 2 verified (1 held out to confirm the golden solution), 1 unverified"
    )
    assert "mean 0.75 over the tests" in lines[1]
    assert "1 test: 3 of 4 normal runs agree (0.75), 0 of 4 candidates' runs did not end normally" in lines[2]
    stages = [line.split()[0] for line in lines if re.match(r"^\s+[a-z_]+ (x\d+:|[a-z]+-[0-9a-f]{16}:)", line)]
    assert stages == ["candidate_solutions", "test_inputs", "problems", "seed_problems"]
    group = next(line for line in lines if line.strip().startswith("test_inputs x4:"))
    assert "4 random inputs from the test generator" in group and f"{TESTS[0]}, {TESTS[1]}, {TESTS[2]} …" in group
    assert text.count(SOLVE) == 1 and text.count(COMPOSE) == 1
    assert f"solve@v1 {SOLVE} (sent to the model, 10+20 tokens, finish stop)" in text
    assert lines[-2] == f"1 parent(s) missing from their table (re-materialized since?): {GONE}"
    assert lines[-1] == "(more: --full)"


def test_full_text_is_the_tree_with_each_prompt_once_and_the_vote_per_test():
    text = lv.render(lineage(), lv.TextWriter(), lv.Options(view="full"))
    lines = text.splitlines()
    assert lines[0] == f"Lineage of {VER} (verified_solutions)"
    assert lines[1] == "7 ancestors, 2 LLM calls"
    assert lines[2] == f"verified_solutions  {VER}  (run run-1)"
    per_test = re.findall(r"(test-[0-9a-f]{16}): (\d+) of (\d+) normal runs agree \(agreement (\d\.\d\d);", text)
    assert [t for t, *_ in per_test] == TESTS[:3]
    assert (
        f"    {TESTS[1]}: 4 of 4 normal runs agree (agreement 1.00; 5 candidates ran, 1 did not end normally), "
        "verified, held out"
    ) in lines
    assert (
        f"    {TESTS[2]}: 1 of 2 normal runs agree (agreement 0.50; 4 candidates ran, 2 did not end normally), "
        "unverified (tie)"
    ) in lines
    # the problem is a parent of the candidate and of every test: shown once, then referred back to
    assert text.count(f"problems  {PROB}") == 1 and text.count(f"(parent {PROB}: shown above)") == 4
    assert f"  parent {GONE} is missing from its table (re-materialized since?)" in lines
    assert f"    LLM call: solve@v1 {SOLVE} (sent to the model, sim-model, candidate_solutions role solve" in text
    assert len(re.findall(r"^\s*--- answer ---$", text, re.MULTILINE)) == 2 and "--- user ---" in text
    # depth shows as indent: the seed under the problem under the candidate under the row
    assert f"      seed_problems  {SEED}  (run run-1)" in lines


def test_markdown_shows_what_the_full_text_shows_in_the_same_order():
    model = lineage()
    text = lv.render(model, lv.TextWriter(), lv.Options(view="full"))
    markdown = lv.render(model, lv.MarkdownWriter(), lv.Options(view="full"))
    assert markdown.startswith(f"# Lineage of `{VER}`")
    html = MD.render(markdown)
    assert "<img" not in html and "<a " not in html  # the hostile summary stays text
    shown = re.sub(r"<[^>]+>", "", html).replace("\u2003", "")
    # every id, in the order the text shows it
    ids = re.compile(r"(?:ver|cand|prob|seed|test|call)-[0-9a-f]{16}")
    assert ids.findall(shown) == ids.findall(text)
    for words in ("normal runs agree (agreement 0.75;", "unverified (tie)", "is missing from its table", "held out"):
        assert words in shown, words
    assert html.count("<pre>") == 4  # each call's prompt and answer, once: two calls
    assert html.count("<h3>") == 1 + 1 + 4 + 1 + 1  # a heading per row, each once


def test_markdown_options_leave_prompts_out_or_clip_them():
    long = lineage(answer="x" * 500)
    without = lv.render(long, lv.MarkdownWriter(), lv.Options(view="full", prompts=False))
    assert "**answer**" not in without and "```" not in without and f"`{SOLVE}`" in without
    clipped = lv.render(long, lv.MarkdownWriter(), lv.Options(view="full", max_chars=100))
    assert "x" * 100 + "\n… (400 more characters)" in clipped and "x" * 101 not in clipped


def test_a_model_cannot_break_out_of_a_verbatim_block_or_a_line():
    answer = f"```\n{HOSTILE}\n```\nafter {HOSTILE}\n````"
    model = lineage(answer=answer)
    html = MD.render(lv.render(model, lv.MarkdownWriter(), lv.Options(view="full")))
    assert "<img" not in html and "<a " not in html and html.count("<pre>") == 4
    short = MD.render(lv.render(model, lv.MarkdownWriter(), lv.Options(view="short")))
    assert "<img" not in short and "<a " not in short and "<pre>" not in short


def test_one_call_alone_and_a_call_not_found():
    model = lineage()
    text = lv.render_call(model.calls[SOLVE], lv.TextWriter())
    assert text.splitlines()[0].startswith(f"LLM call: solve@v1 {SOLVE} (sent to the model, sim-model")
    assert "--- user ---\nSolve solve@v1\n--- answer ---\n```python" in text
    gone = lv.lineage_of(CAND, [_step(CAND, "candidate_solutions", 0, calls=["call-00000000000000ff"])], {})
    out = lv.render(gone, lv.TextWriter(), lv.Options(view="full"))
    assert "LLM call: call-00000000000000ff (not in llm_calls: re-materialized since?)" in out


def test_a_request_that_is_not_chat_json_is_shown_as_it_is():
    row = {**_call(SOLVE, "solve@v1", "a"), "request_json": "not json"}
    model = lv.lineage_of(CAND, [_step(CAND, "candidate_solutions", 0, calls=[SOLVE])], {SOLVE: row})
    assert "    --- request (not the chat JSON expected) ---\n    not json" in lv.render(
        model, lv.TextWriter(), lv.Options(view="full")
    )


def test_an_empty_summary_leaves_no_stray_backslash_in_markdown():
    model = lv.lineage_of(SEED, [{**_step(SEED, "seed_problems", 0), "summary": None}], {})
    markdown = lv.render(model, lv.MarkdownWriter(), lv.Options(view="full"))
    assert not re.search(r"\\$", markdown, re.MULTILINE) and markdown.endswith(
        "0 ancestors, 0 LLM calls\n\n### seed_problems `seed-00000000000000d1` \\(run run-1\\)"
    )


def test_a_call_asked_again_shows_its_earlier_attempts_in_every_view():
    first, second = "call-00000000000000e1", "call-00000000000000e2"
    chain = [_step(PROB, "problems", 0, [SEED], [COMPOSE], summary="A sum problem"), _step(SEED, "seed_problems", 1)]
    calls = {COMPOSE: _call(COMPOSE, "compose_problem@v1", "the third answer")}
    earlier = [_call(first, "compose_problem@v1", "a first answer"), _call(second, "compose_problem@v1", "leaks it")]
    model = lv.lineage_of(PROB, chain, calls, earlier={COMPOSE: earlier})
    assert model.earlier == {COMPOSE: (first, second)} and model.calls[second].content == "leaks it"
    short = lv.render(model, lv.TextWriter(), lv.Options(view="short"))
    assert f", asked again after 2 earlier attempts ({first}, {second})" in short.splitlines()[0]
    full = lv.render(model, lv.TextWriter(), lv.Options(view="full"))
    assert "1 ancestors, 3 LLM calls" in full
    lines = full.splitlines()
    asked = lines.index(
        "  asked again: 2 earlier attempts of that call, whose answers failed validation (first first):"
    )
    assert lines[asked + 1].startswith(f"    LLM call: compose_problem@v1 {first} (")
    assert full.index(first) < full.index(second) and "a first answer" in full and "leaks it" in full
    markdown = lv.render(model, lv.MarkdownWriter(), lv.Options(view="full"))
    shown = MD.render(markdown)  # as the UI shows it: the escapes gone
    assert "asked again: 2 earlier attempts of that call" in shown and second in shown
    assert lv.lineage_of(PROB, chain, calls).earlier == {}  # asked once: nothing more
