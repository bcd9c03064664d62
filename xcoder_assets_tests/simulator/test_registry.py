"""The simulator answers by the prompt template's id and version, never by the prompt's prose."""

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from xcoder_assets.llm.gateway import LLMGateway, LLMRequest
from xcoder_assets.llm.settings import OFFLINE_MODEL, RECIPE_PARAMS, RoleSettings
from xcoder_assets.recipe import prompts, verification
from xcoder_assets.recipe.prompts import PROMPT_DIR, TemplateMismatch, load_template, split_template_id
from xcoder_assets.simulator.common import SimRequest
from xcoder_assets.simulator.registry import HANDLERS, SimulatorError, answer
from xcoder_assets.simulator.solve import sample_kind
from xcoder_assets.store.ids import content_hash
from xcoder_assets_tests.conftest import start_server

SOLVE_VALUES = {
    "question": (
        "# Boards of Chess Club\n\nThe organizers of a chess club must move boards in the given order within D "
        "days. Each day they move a run of consecutive boards whose total weight does not exceed the daily "
        "capacity. Find the smallest capacity that moves everything within D days.\n\n## Input\n\nThe first "
        "line contains n and D. The second line contains n integers, the weights."
    ),
    "format_instruction": "Read the inputs from stdin solve the problem and write the answer to stdout.",
    "starter": "# YOUR CODE HERE",
}
EXTRACT_VALUES = {
    "question": "Given a weighted directed graph, print the shortest distance from 1 to n.",
    "code": "import heapq\nfrom collections import defaultdict\nadj = defaultdict(list)\nprint(0)\n",
}

# Same ids, same variables, every word of prose different (no "Task:", no "### Question:").
REWORDED = {
    "solve.v1.txt": (
        "=== system ===\nWrite a Python program for the problem you are given.\n=== user ===\n"
        "Problem statement follows.\n$question\n\nI/O convention -> $format_instruction\n<<<\n$starter\n>>>\n"
        "Reply with one fenced block."
    ),
    "extract_features.v1.txt": (
        "=== system ===\nYou tag code with the techniques it uses.\n=== user ===\n"
        "Tag this program.\n[statement]\n$question\n[program]\n$code\n[end]\nJSON only."
    ),
}


def offline_gateway(role: str, max_tokens: int | None = None) -> LLMGateway:
    params = RECIPE_PARAMS[role]
    if max_tokens:
        params = params.__class__(params.temperature, params.top_p, max_tokens, params.top_k)
    return LLMGateway({role: RoleSettings(role, OFFLINE_MODEL, params)})


def ask(role: str, template_id: str, values: dict, seeds=(None,)) -> list:
    template = prompts.template_by_id(template_id)
    messages = template.render(**values)
    requests = [LLMRequest.of(role, messages, template.id, seed=s) for s in seeds]
    return offline_gateway(role).complete(requests)


def test_every_template_in_the_repository_has_a_handler():
    ids = set()
    for path in PROMPT_DIR.glob("*.v*.txt"):
        name, _, version = path.name[: -len(".txt")].rpartition(".v")
        ids.add(f"{name}@v{version}")
    assert ids == set(HANDLERS), "a template version without a simulator handler (or a handler without its template)"
    for template_id in HANDLERS:
        assert split_template_id(template_id)[0] == load_template(*split_template_id(template_id)).name


def test_a_reworded_template_with_the_same_id_gets_the_same_answers(tmp_path, monkeypatch):
    before = {
        "solve": ask("solve", "solve@v1", SOLVE_VALUES, seeds=range(8)),
        "extract": ask("extract", "extract_features@v1", EXTRACT_VALUES),
    }
    for path in PROMPT_DIR.glob("*.txt"):
        (tmp_path / path.name).write_text(REWORDED.get(path.name, path.read_text()))
    monkeypatch.setattr(prompts, "PROMPT_DIR", tmp_path)
    load_template.cache_clear()
    try:
        reworded = prompts.template_by_id("solve@v1")
        text = "\n".join(m["content"] for m in reworded.render(**SOLVE_VALUES))
        assert "### Question:" not in text and "Problem statement follows." in text
        after = {
            "solve": ask("solve", "solve@v1", SOLVE_VALUES, seeds=range(8)),
            "extract": ask("extract", "extract_features@v1", EXTRACT_VALUES),
        }
    finally:
        monkeypatch.undo()
        load_template.cache_clear()
    for role in before:
        assert all(r.ok for r in before[role] + after[role])
        assert [r.content for r in after[role]] == [r.content for r in before[role]]
        assert [r.cache_key for r in after[role]] != [r.cache_key for r in before[role]]  # new prompts, new calls
    # the solving answers are real: the capacity problem's candidates, some right, some not
    correct = [
        verification.extract_solution_code(r.content).code
        for seed, r in enumerate(after["solve"])
        if sample_kind(SimRequest("solve@v1", SOLVE_VALUES, seed).key, seed) == "correct"
    ]
    outputs = [
        subprocess.run(
            [sys.executable, "-c", c], input="3 2\n1 2 3\n", capture_output=True, text=True, timeout=60
        ).stdout
        for c in correct
    ]
    assert correct and all("def minCapacity" not in c for c in correct) and len(set(correct)) == len(correct)
    assert set(outputs) == {"3\n"}  # loads 1 2 3 in 2 days: capacity 3 ([1, 2], [3])
    # and the feature tree is the code's, read from the values the template gave back (heapq, defaultdict)
    assert "priority queue (binary heap)" in after["extract"][0].content
    assert "hash map with default values" in after["extract"][0].content


def test_an_unknown_template_id_is_a_clear_error_never_retried():
    messages = load_template("solve").render(**SOLVE_VALUES)
    (result,) = offline_gateway("solve").complete([LLMRequest.of("solve", messages, "solve@v9")])
    assert result.error.startswith("http_400") and "'solve@v9'" in result.error and "solve@v1" in result.error
    assert result.attempts == 1
    with pytest.raises(SimulatorError, match="no handler for prompt template 'nope@v1'"):
        answer("nope@v1", messages)
    with pytest.raises(SimulatorError, match="needs the template id"):
        answer(None, messages)


def test_a_prompt_that_is_not_the_templates_rendering_is_refused():
    messages = load_template("extract_features").render(**EXTRACT_VALUES)
    with pytest.raises(SimulatorError, match="does not match the text of template solve@v1"):
        answer("solve@v1", messages)
    with pytest.raises(TemplateMismatch):
        load_template("solve").parse([{"role": "user", "content": "hi"}])


def test_template_parse_is_the_inverse_of_render():
    for path in PROMPT_DIR.glob("*.v*.txt"):
        name, _, version = path.name[: -len(".txt")].rpartition(".v")
        template = load_template(name, int(version))
        values = {
            v: f"{v} value\nwith ### Question: and Task: lines, $ signs and ```fences```" for v in template.variables
        }
        if "style" in values:
            values["style"] = "codeforces"  # one line, as the stage writes it
        assert template.parse(template.render(**values)) == values


def test_the_template_id_rides_outside_the_cache_key():
    gateway = offline_gateway("extract")
    template = load_template("extract_features")
    request = LLMRequest.of("extract", template.render(**EXTRACT_VALUES), template.id)
    body = gateway.request_body(request)
    assert set(body) == {"model", "messages", "params", "template"} and body["template"] == "extract_features@v1"
    (result,) = gateway.complete([request])
    assert result.cache_key == content_hash(body, 32)


def test_the_fake_server_answers_as_the_in_process_provider(fake_llm_url):
    """Every template, over HTTP (the id in the X-Prompt-Template header) and in-process (litellm
    metadata): the same answers; an unknown id is a 400 naming it there too."""
    settings = RoleSettings(
        "solve", "openai/synthsmith-sim-1", RECIPE_PARAMS["solve"], api_base=fake_llm_url, api_key="sk-test"
    )
    values = {
        **EXTRACT_VALUES,
        **SOLVE_VALUES,
        "subtree": '{"algorithms": {"graph algorithms": ["bfs"]}}',
        "features": "- algorithms: graph algorithms / bfs\n- data_structures: queue",
        "style": "codeforces",
    }
    requests = []
    for template_id in sorted(HANDLERS):
        template = prompts.template_by_id(template_id)
        messages = template.render(**{v: values.get(v, f"the {v}") for v in template.variables})
        requests += [
            LLMRequest.of("solve", messages, template_id, seed=s)
            for s in (range(3) if "solve" in template_id else [None])
        ]
    unknown = LLMRequest.of("solve", requests[0].messages, "solve@v9")
    over_http = LLMGateway({"solve": settings}).complete(requests + [unknown])
    in_process = offline_gateway("solve").complete(requests)
    assert all(r.ok for r in over_http[:-1] + in_process)
    assert [(r.content, r.finish_reason) for r in over_http[:-1]] == [(r.content, r.finish_reason) for r in in_process]
    refused = over_http[-1]
    assert refused.error.startswith("http_400") and "'solve@v9'" in refused.error and refused.attempts == 1


def test_the_cli_serves_the_simulator():
    xcoder = Path(sys.executable).with_name("xcoder")
    process, url = start_server(
        [str(xcoder), "fake-llm-server", "--port", "0", "--latency", "0"], r"listening on (http://\S+)"
    )
    try:
        with urllib.request.urlopen(url + "/models", timeout=30) as response:
            models = {m["id"] for m in json.loads(response.read())["data"]}
    finally:
        process.kill()
        process.wait()
    assert "synthsmith-sim-1" in models
