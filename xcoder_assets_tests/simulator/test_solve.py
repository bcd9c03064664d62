"""The simulator's candidate solutions: the documented difficulty mix, and what the vote makes of it."""

import contextlib
import io
import random
import subprocess
import sys
from collections import Counter

import pytest

from xcoder_assets.recipe import composition, verification
from xcoder_assets.simulator.common import SimRequest
from xcoder_assets.simulator.compose import ARCHETYPES, build_problem, problem_params, stdin_of
from xcoder_assets.simulator.solve import BLOCK, MIX, answer_solve, deck_of, recognise, sample_kind

THEME = ("a chess club", "organizers", "boards")
WRONG = {"off_by_one", "scrambled", "partial"}


def solve_request(question: str, seed: int) -> SimRequest:
    return SimRequest(
        "solve@v1",
        {"question": question, "format_instruction": "Read stdin, write stdout.", "starter": "# YOUR CODE HERE"},
        seed,
    )


def problem(i: int) -> tuple[str, object, dict]:
    """(statement, archetype, the parameters it states) of synthetic problem i."""
    archetype = ARCHETYPES[i % len(ARCHETYPES)]
    built = build_problem(archetype, "codeforces", f"problem-{i}", THEME)
    statement = composition.render_problem_markdown(
        "codeforces",
        composition.Statement(
            built["title"],
            built["statement"],
            built["input_format"],
            built["output_format"],
            built["constraints"],
            built["examples"],
        ),
    )
    found = recognise(statement)
    assert found is not None and found[0] is archetype
    return statement, archetype, found[1]


def inputs_for(i: int, n: int, salt: int) -> list[str]:
    """Inputs of problem i, drawn as its examples are (build_problem's parameters, then the archetype)."""
    archetype = ARCHETYPES[i % len(ARCHETYPES)]
    params = problem_params(archetype, "codeforces", random.Random(f"problem-{i}"))
    rng = random.Random(salt)
    several = params["cases"]
    return [
        stdin_of(
            archetype,
            [archetype.generate(rng, params) for _ in range(rng.randint(1, several) if several else 1)],
            params,
        )
        for _ in range(n)
    ]


def run_in_process(code: str, stdin: str) -> str | None:
    """Our own small programs (never the endless ones): stdout, or None when it raises."""
    out = io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "<candidate>", "exec"), {"__name__": "__main__"})
    except Exception:
        return None
    finally:
        sys.stdin = old_stdin
    return out.getvalue()


def test_the_mix_of_difficulty_is_the_documented_one():
    keys = [f'solve|{{"question": "q{i}"}}' for i in range(6000)]
    decks = Counter(deck_of(k) for k in keys)
    for share, deck in MIX:
        assert abs(decks[deck] / len(keys) - share) < 0.02, (deck, decks[deck] / len(keys), share)
    correct = Counter(deck.count("correct") for deck in decks.elements())
    assert {0, 1, 2, 4, 5, 6, 7, 8} == set(correct)
    # one problem's samples: a block of eight is its deck, reshuffled per block; the same mix again after it
    key = keys[0]
    first = sorted(sample_kind(key, s) for s in range(BLOCK))
    second = sorted(sample_kind(key, s) for s in range(BLOCK, 2 * BLOCK))
    assert _as_dealt(first) == _as_dealt(second) == Counter(deck_of(key))
    assert [sample_kind(key, s) for s in range(16)] == [sample_kind(key, s) for s in range(16)]


def _as_dealt(kinds) -> Counter:
    """Sample kinds as the deck names them (a crash or an endless program is 'fails'...)."""
    unusable = ("truncated", "no_code", "two_blocks", "syntax_error")
    return Counter("fails" if k in ("crash", "slow") else "unusable" if k in unusable else k for k in kinds)


def test_a_partly_wrong_sample_fails_only_some_inputs_and_the_others_fail_all():
    for i in range(len(ARCHETYPES)):
        statement, archetype, params = problem(i)
        kinds = {}
        for seed in range(64):  # enough blocks to meet every kind this problem's deck holds
            kind = sample_kind(solve_request(statement, seed).key, seed)
            kinds.setdefault(kind, seed)
        inputs = inputs_for(i, 24, i)
        truth = [
            run_in_process(_code(statement, kinds.get("correct", None), archetype, params, "correct"), x)
            for x in inputs
        ]
        assert None not in truth
        if "partial" in kinds:
            outputs = [run_in_process(_code(statement, kinds["partial"]), x) for x in inputs]
            wrong = sum(o.split() != t.split() for o, t in zip(outputs, truth))
            assert 0 < wrong < len(inputs), (archetype.key, wrong)
        for kind in ("off_by_one", "scrambled"):
            if kind in kinds:
                outputs = [run_in_process(_code(statement, kinds[kind]), x) for x in inputs]
                assert all(o.split() != t.split() for o, t in zip(outputs, truth)), (archetype.key, kind)


def _code(statement, seed, archetype=None, params=None, variant=None) -> str:
    if seed is None:  # a deck without a right sample: write the right program directly
        from xcoder_assets.simulator.solve import solution_program

        return solution_program(archetype, params, False, variant)
    content, _ = answer_solve(solve_request(statement, seed))
    extracted = verification.extract_solution_code(content)
    assert extracted.code is not None, content[-300:]
    return extracted.code


def test_the_vote_catches_every_wrong_sample_and_rejects_what_it_cannot_decide():
    """The documented consequence of the mix, on the recipe's own vote: no wrong sample is ever a
    verified solution; problems with one right and one wrong sample, or none right, are rejected."""
    rejected_decks, easy = Counter(), 0
    problems = 240
    for i in range(problems):
        statement, _, _ = problem(i)
        inputs = inputs_for(i, 12, 1000 + i)
        test_ids = [f"t{i}-{j}" for j in range(len(inputs))]
        outputs, kinds = [], []
        for seed in range(BLOCK):
            request = solve_request(statement, seed)
            kind = sample_kind(request.key, seed)
            code = verification.extract_solution_code(answer_solve(request)[0]).code
            if code is None:
                continue  # unusable: never run
            kinds.append(kind)
            outputs.append([None if kind == "slow" else _canonical(run_in_process(code, x)) for x in inputs])
        result = verification.verify(test_ids, outputs, seed=i)
        deck = deck_of(solve_request(statement, 0).key)
        if result.status == "rejected":
            rejected_decks[deck] += 1
            continue
        assert kinds[result.golden] == "correct"
        assert all(kinds[c] == "correct" for c in result.verified_candidates)
        assert sorted(result.verified_candidates) == [c for c, k in enumerate(kinds) if k == "correct"]
        easy += all(k == "correct" for k in kinds)
    undecidable = {
        deck
        for _, deck in MIX
        if deck.count("correct") == 0 or ("correct", "off_by_one") == deck[:2] and deck.count("correct") == 1
    }
    assert set(rejected_decks) == undecidable
    assert 0.10 < easy / problems < 0.40  # the 8- and 7-right rows (25% of problems)


def _canonical(output: str | None) -> str | None:
    return None if output is None else verification.canonical_output(output, False)


def test_a_candidate_program_runs_as_a_real_program():
    statement, _, _ = problem(3)
    code = _code(statement, next(s for s in range(64) if sample_kind(solve_request(statement, s).key, s) == "correct"))
    stdin = inputs_for(3, 1, 7)[0]
    run = subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout == run_in_process(code, stdin)


@pytest.mark.parametrize("seed", [None, 0, 5])
def test_answers_are_deterministic(seed):
    statement, _, _ = problem(1)
    assert answer_solve(solve_request(statement, seed)) == answer_solve(solve_request(statement, seed))
