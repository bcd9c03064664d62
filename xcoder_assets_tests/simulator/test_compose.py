"""The simulator's composed statements: constraints survive each style's layout."""

import re

import pytest

from xcoder_assets.simulator.compose import ARCHETYPES, BY_KEY, build_problem

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
