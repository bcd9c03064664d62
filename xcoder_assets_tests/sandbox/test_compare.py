"""Output comparison on the host (no sandbox): exact numbers, hostile program output never raises,
and canonical forms (for the vote) agree with lines_match."""

import json
import random
import sys
import time
from decimal import Decimal

import pytest

from xcoder_assets.recipe.verification import canonical_output, vote
from xcoder_assets.sandbox.compare import (
    _Unrepresentable,
    canonical_number,
    decimal_key,
    decode_value,
    functional_match_lcb,
    functional_match_strict,
    lines_match,
)

DIGITS_29 = "12345678901234567890123456789"
DIGITS_29_OFF = "12345678901234567890123456788"
HUGE_INT = "9" * 60_000  # over Python's int/str digit limit (4300, or 50000 as LiveCodeBench sets it)


def matches(a: str, b: str) -> bool:
    return lines_match(a, b)[0]


def same_canonical(a: str, b: str) -> bool:
    return canonical_output(a, False) == canonical_output(b, False)


def _nested(depth: int, leaf: object, wrap) -> object:
    value = leaf
    for _ in range(depth):
        value = wrap(value)
    return value


# ---- the red team's cases ---------------------------------------------------------------------------


def test_overflowing_exponent_is_compared_exactly_and_does_not_raise():
    huge = "1e999999999999999999"
    assert matches(huge, "1E+999999999999999999") and matches(huge, "10e999999999999999998")
    assert not matches(huge, "1e999999999999999998")
    assert not matches(huge, "-1e999999999999999999")
    assert canonical_output(huge, False) == canonical_output("10E999999999999999998", False) == "1E+999999999999999999"
    assert canonical_output(huge, False) != canonical_output("1e999999999999999998", False)
    # beyond what Decimal reads: not a number (as in the official harness), only identical text matches
    beyond = "1e9999999999999999999"
    assert decimal_key(beyond) is None and canonical_output(beyond, False) == beyond
    assert matches(beyond, beyond) and not matches(beyond, "10e9999999999999999998")


def test_short_exponents_do_not_expand():
    start = time.perf_counter()
    for token in ("1e9999999", "-3.5e-9999999", "7E+99999999", "1e999999999999999999"):
        form = canonical_number(token)
        assert form is not None and len(form) < 40 and "E" in form
        assert len(canonical_output(f"{token} {token}\n{token}", False)) < 100
    assert time.perf_counter() - start < 0.5
    assert canonical_number("1e9999999") == "1E+9999999"
    assert canonical_number("-3.5e-9999999") == "-3.5E-9999999" and canonical_number("35e-9999999") == "3.5E-9999998"


def test_numbers_beyond_28_digits_are_not_rounded():
    assert not matches(DIGITS_29, DIGITS_29_OFF)
    assert matches(DIGITS_29, DIGITS_29 + ".000") and matches(DIGITS_29, "1.2345678901234567890123456789e28")
    assert canonical_output(DIGITS_29, False) == DIGITS_29
    assert canonical_output(DIGITS_29, False) != canonical_output(DIGITS_29_OFF, False)
    long_fraction = "0." + "3" * 60 + "1"
    assert not matches(long_fraction, "0." + "3" * 60 + "2")
    assert canonical_output(long_fraction, False) == long_fraction


@pytest.mark.parametrize("token", ["sNaN", "NaN", "snan", "-sNaN123", "nan", "-NaN", "sNaN1e5"])
def test_nan_tokens_do_not_raise_and_match_only_identical_text(token):
    assert matches(token, token) and matches(f"1 {token}", f"1 {token}")
    assert not matches(f"1 {token}", f"1.0 {token}")  # NaN != NaN: the numeric path cannot match
    assert not matches(token, "sNaN0")
    assert canonical_output(f"1 {token}", False) == f"1 {token}"
    assert canonical_output(f"1 {token}", False) != canonical_output(f"1.0 {token}", False)
    assert decimal_key(token) is None and canonical_number(token) is None


def test_vote_over_hostile_outputs_finishes():
    raw = [
        "1e999999999999999999",
        "sNaN",
        "-sNaN123",
        "1e9999999",
        DIGITS_29,
        DIGITS_29 + ".0",
        DIGITS_29_OFF,
        "1e9999999999999999999",
        "x" * 10000,
        None,
    ]
    start = time.perf_counter()
    outputs = [None if o is None else canonical_output(o, False) for o in raw]
    result = vote("t", outputs, min_agreement=0.2)
    assert time.perf_counter() - start < 1.0
    assert result.verified and result.expected == DIGITS_29 and result.top_votes == 2 and result.voters == 9
    assert matches(result.expected, DIGITS_29)  # the voted output is one a program printed, up to spelling


# ---- LiveCodeBench's ordinary rules ----------------------------------------------------------------


def test_ordinary_rules():
    assert matches("0.50", "0.5") and matches("-0", "0") and matches("-0.000", "0e7") and matches("1e2", "100")
    assert matches("  1  2 \n3\n\n", "1 2\n3") and matches("1_000", "1000") and matches("+5", "5")
    assert matches("inf", "Infinity") and not matches("inf", "-inf")
    assert not matches("1 2", "1 2 3") and not matches("1 2 3", "1 2")
    assert not matches("YES", "yes") and matches("YES", "YES") and not matches("a  b", "a b")
    assert lines_match("1\n2", "1")[1] == "mismatched output length: 2 lines, expected 1"
    assert lines_match("1 2", "1 3")[1] == "line 1: '1 2' != '1 3'"
    assert not matches("0.1", "0.10000000000000001")  # no float tolerance


TRICKY_PAIRS = [
    ("0.50", "0.5"),
    ("-0", "0"),
    ("-0.0", "0E-5"),
    ("1e2", "100"),
    ("1E+2", "1.00e2"),
    ("100", "1e3"),
    ("1 2", "1 2 3"),
    ("1  2", "1 2"),
    ("YES", "yes"),
    ("a  b", "a b"),
    ("1 a", "1.0 a"),
    ("1 a", "1 a"),
    ("1\n2", "1"),
    ("\n1\n", "1"),
    ("", " "),
    ("", "0"),
    ("inf", "Infinity"),
    ("-inf", "-Infinity"),
    ("inf", "-inf"),
    ("NaN", "NaN"),
    ("NaN", "nan"),
    ("sNaN", "sNaN"),
    ("-sNaN123", "-sNaN123"),
    ("sNaN", "snan"),
    ("1 sNaN", "1.0 sNaN"),
    (DIGITS_29, DIGITS_29_OFF),
    (DIGITS_29, DIGITS_29 + "0e-1"),
    ("1e999999999999999999", "10E999999999999999998"),
    ("1e999999999999999999", "1e999999999999999998"),
    ("1e9999999999999999999", "1e9999999999999999999"),
    ("1e9999999999999999999", "10e9999999999999999998"),
    ("1e9999999", "10e9999998"),
    ("1e65", "1" + "0" * 65),
    ("1e64", "1" + "0" * 64),
    ("1e-65", "0." + "0" * 64 + "1"),
    ("1_000", "1000"),
    ("١٢٣", "123"),
    ("0x10", "16"),
    ("1,5", "1.5"),
    ("1.", "1"),
    (".5", "0.5"),
    ("1E+64", "1E64"),
    ("Infinity", "Infinity1"),
    ("2 3\n4", "2.0 3.00\n4e0"),
    ("1\n\n2", "1\n2"),
]


@pytest.mark.parametrize("a, b", TRICKY_PAIRS)
def test_canonical_forms_agree_with_lines_match(a, b):
    assert matches(a, b) == same_canonical(a, b)
    # a canonical form is itself an output the rule accepts in place of the original
    assert matches(canonical_output(a, False), a) and matches(canonical_output(b, False), b)


def _official_lines_match(prediction: str, expected: str) -> bool:
    """LiveCodeBench's grade_stdio comparison, from the installed harness (an exception counts as a failure)."""
    limit = sys.get_int_max_str_digits()
    testing_util = pytest.importorskip("livecodebench.evaluation.testing_util")
    sys.set_int_max_str_digits(limit)  # the harness' package raises it to 50000 on import; keep ours
    got, want = testing_util.get_stripped_lines(prediction), testing_util.get_stripped_lines(expected)
    if len(got) != len(want):
        return False
    for a, b in zip(got, want):
        if a == b:
            continue
        ok_a, da = testing_util.convert_line_to_decimals(a)
        ok_b, db = testing_util.convert_line_to_decimals(b)
        try:
            if not (ok_a and ok_b and da == db):
                return False
        except ArithmeticError:  # sNaN: the harness itself would crash on this test
            return False
    return True


@pytest.mark.parametrize("a, b", TRICKY_PAIRS)
def test_lines_match_agrees_with_the_official_harness(a, b):
    assert matches(a, b) == _official_lines_match(a, b)


def _spellings(rng: random.Random, sign: int, coefficient: str, exponent: int) -> list[str]:
    """Different spellings of the number (-1)**sign * int(coefficient) * 10**exponent."""
    minus = "-" if sign else rng.choice(["", "+"])
    spelled = []
    for _ in range(4):
        zeros = rng.choice([0, 0, 1, 3, 40])
        coef, exp = coefficient + "0" * zeros, exponent - zeros
        coef = "0" * rng.choice([0, 0, 2]) + coef
        form = rng.choice(["sci", "point", "plain"])
        if form == "point" and len(coef) > 1:
            spelled.append(f"{minus}{coef[0]}.{coef[1:]}{rng.choice('eE')}{exp + len(coef) - 1:+d}")
        elif form == "plain" and -80 <= exp <= 80:
            if exp >= 0:
                spelled.append(minus + coef + "0" * exp)
            else:
                padded = coef.rjust(-exp + 1, "0")
                spelled.append(f"{minus}{padded[:exp]}.{padded[exp:]}")
        else:
            spelled.append(f"{minus}{coef}{rng.choice(['e', 'E'])}{exp}")
    return spelled


def test_property_lines_match_equals_canonical_equality():
    rng = random.Random(20240607)
    pool: list[str] = []
    for _ in range(400):
        coefficient = rng.choice(["0", str(rng.randrange(1, 10)), str(rng.randrange(1, 10 ** rng.randrange(1, 40)))])
        exponent = rng.choice(
            [
                0,
                rng.randrange(-5, 6),
                rng.randrange(-100, 100),
                rng.choice([1, -1]) * rng.randrange(10**17, 10**18 - 100),
            ]
        )
        sign = rng.randrange(2)
        pool += _spellings(rng, sign, coefficient, exponent)
        nearby = str(int(coefficient) + 1)  # the same spelling habits, one unit off in the last digit
        pool += _spellings(rng, sign, nearby, exponent)[:1] + _spellings(rng, 1 - sign, coefficient, exponent)[:1]
    assert len(pool) >= 2400
    checked = equal = 0
    for index, a in enumerate(pool):
        for b in (pool[index - 1], pool[index - 2], rng.choice(pool)):
            truth = Decimal(a) == Decimal(b)  # the official harness' (exact) comparison of finite numbers
            assert matches(a, b) == truth == same_canonical(a, b), (a, b)
            line_a, line_b = f"{a} {b}", f"{b}  {a}"
            assert matches(line_a, line_b) == same_canonical(line_a, line_b) == _official_lines_match(line_a, line_b)
            checked, equal = checked + 1, equal + truth
    assert equal > checked // 10  # many pairs are spellings of the same value
    for token in pool:
        form = canonical_number(token)
        assert canonical_number(form) == form and decimal_key(form) == decimal_key(token)
        assert len(form) <= len(token) + 70


# ---- functional results --------------------------------------------------------------------------


def test_decode_value_never_raises():
    big = decode_value({"__int__": HUGE_INT})  # int() of a string over the digit limit raises ValueError
    assert isinstance(big, _Unrepresentable) and big != big
    assert isinstance(decode_value({"__float__": "garbage"}), _Unrepresentable)
    assert isinstance(decode_value({"__float__": [1]}), _Unrepresentable)
    assert isinstance(decode_value({"__dict__": 5}), _Unrepresentable)
    assert isinstance(decode_value(_nested(100_000, [], lambda v: {"__tuple__": [v]})), _Unrepresentable)
    assert decode_value({"__tuple__": [1, {"__int__": "12"}, {"__float__": "nan"}]})[:2] == (1, 12)
    assert decode_value([{"__set__": [1, 2]}, {"__dict__": [["a", 1]]}]) == [{1, 2}, {"a": 1}]


def test_functional_matches_never_raise():
    deep = "[" * 100_000 + "]" * 100_000
    assert functional_match_strict(deep, "[]")[0] is False
    assert functional_match_strict(HUGE_INT, "1")[0] is False
    assert functional_match_strict("[1]", deep)[0] is False
    assert functional_match_strict("[1, 2.5]", "[1, 2.5]") == (True, None)
    nested = _nested(100_000, 0, lambda v: [v])
    ok, reason = functional_match_lcb(nested, json.dumps(_nested(500, 0, lambda v: [v])))
    assert ok is False and reason
    assert functional_match_lcb([1], deep)[0] is False
    assert functional_match_lcb(decode_value({"__int__": HUGE_INT}), "1")[0] is False
    assert functional_match_lcb((1, 2), "[1, 2]")[0] is False and functional_match_lcb([1, 2], "[1, 2]") == (True, None)
    ok, reason = functional_match_lcb(int(HUGE_INT[:4000]) ** 20, "1")  # its repr raises (over the digit limit)
    assert ok is False and len(reason) < 200


def test_functional_canonical_output_never_raises():
    deep = "[" * 100_000 + "]" * 100_000
    assert canonical_output(deep, True).startswith("\u0000unparseable")
    assert canonical_output(HUGE_INT, True).startswith("\u0000unparseable")
    assert canonical_output('{"b": 1, "a": NaN}', True) == '{"a": NaN, "b": 1}'
