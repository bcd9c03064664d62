"""The simulator's composed statements: constraints survive each style's layout; its imperfections are drawn
per answer, from the request and its seed."""

import re
from collections import Counter

import pytest

from xcoder_assets.recipe.composition import STYLE_GUIDES
from xcoder_assets.recipe.prompts import load_template
from xcoder_assets.simulator.compose import ARCHETYPES, BY_KEY, build_problem
from xcoder_assets.simulator.registry import answer

THEME = ("a chess club", "organizers", "boards")


def test_variables_sharing_a_bound_stay_one_atcoder_constraint():
    built = build_problem(BY_KEY["coprime_count"], "atcoder", "problem-0", THEME)
    assert built["constraints"] == "- 1 <= n, m <= 10^12"
    grid = build_problem(BY_KEY["grid_steps"], "atcoder", "problem-1", THEME)
    assert "- 1 <= n, m <= 1000" in grid["constraints"].split("\n")  # one line, beside the T line of several cases


@pytest.mark.parametrize("archetype", ARCHETYPES, ids=lambda a: a.key)
def test_every_atcoder_constraint_line_is_whole(archetype):
    atcoder = build_problem(archetype, "atcoder", "problem-2", THEME)
    codeforces = build_problem(archetype, "codeforces", "problem-2", THEME)
    lines = atcoder["constraints"].split("\n")
    assert all(line.startswith("- ") for line in lines), lines
    # every constraint states its lower bound first: a line opening with a variable is a fragment of one
    assert all(re.match(r"- \d", line) for line in lines), lines
    # the same constraints as the inline (Codeforces) text, nothing lost or split
    assert ", ".join(line[2:] for line in lines) == codeforces["constraints"]


def _statement_answers(seed, count=1000):
    """The statement step's answers to `count` prompts (scenarios of their own), asked with `seed`."""
    template = load_template("compose_problem")
    answers = []
    for index in range(count):
        messages = template.render(
            style="codeforces",
            style_guide=STYLE_GUIDES["codeforces"],
            selected="two pointers, array",
            strategy="grow a window to the right",
            scenario=f"In the harbour of Vel {index}, the dockers of pier {index * 7} move crates in a row.",
        )
        answers.append(answer(template.id, messages, seed))
    return answers


def _imperfect(content_finish) -> str | None:
    content, finish = content_finish
    if finish == "length":
        return "cut off"
    if "```json" not in content:
        return "prose"
    return "leak" if "Hint:" in content else None


def test_a_seed_is_another_draw_of_the_imperfections_at_the_documented_rates():
    plain, second, third = (_statement_answers(seed) for seed in (None, 2, 3))
    for answers in (plain, second, third):
        found = Counter(_imperfect(a) for a in answers)
        # 5% prose, 3% cut off, 12% leaks per answer, whatever the seed (1,000 answers: about 3 standard errors)
        assert abs(found["prose"] / 1000 - 0.05) < 0.02 and abs(found["cut off"] / 1000 - 0.03) < 0.015, found
        assert abs(found["leak"] / 1000 - 0.12) < 0.03, found
    # independent draws: an answer imperfect without a seed is as often clean with seed 2 as any other
    failed = [i for i, a in enumerate(plain) if _imperfect(a)]
    assert sum(_imperfect(second[i]) is None for i in failed) >= 0.7 * len(failed)
    assert sum(_imperfect(plain[i]) != _imperfect(third[i]) for i in failed) >= 0.7 * len(failed)
    # the problem is the one its prompt fixes: clean answers of both seeds are the same problem
    clean = [i for i in range(1000) if _imperfect(plain[i]) is None and _imperfect(second[i]) is None]
    assert clean and all(plain[i] == second[i] for i in clean)


def test_the_scenario_step_draws_its_prose_from_the_seed_too():
    template = load_template("compose_scenario")
    prose = Counter()
    for index in range(1000):
        messages = template.render(
            features=f"- algorithms: graph / breadth-first search {index}\n- data_structures: queue"
        )
        for seed in (None, 2):
            prose[seed] += "```json" not in answer(template.id, messages, seed)[0]
    assert abs(prose[None] / 1000 - 0.05) < 0.02 and abs(prose[2] / 1000 - 0.05) < 0.02, prose
