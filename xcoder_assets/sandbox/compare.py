"""Output comparison rules (pure functions).

`lines_match` is LiveCodeBench's stdin rule: whole output stripped, split on newlines, each line
stripped; line counts must match; a line matches if equal, or if every whitespace-separated token
of both lines parses as a decimal and the numbers are equal (0.50 == 0.5; no float tolerance).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal, InvalidOperation
from typing import Any


def stripped_lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().split("\n")]


def _decimals(line: str) -> list[Decimal] | None:
    try:
        return [Decimal(token) for token in line.split()]
    except (InvalidOperation, ValueError):
        return None


def lines_match(output: str, expected: str) -> tuple[bool, str | None]:
    """(match, reason of the first difference) under the LiveCodeBench rule."""
    got, want = stripped_lines(output), stripped_lines(expected)
    if len(got) != len(want):
        return False, f"mismatched output length: {len(got)} lines, expected {len(want)}"
    for index, (a, b) in enumerate(zip(got, want)):
        if a == b:
            continue
        da, db = _decimals(a), _decimals(b)
        if da is None or db is None or da != db:
            return False, f"line {index + 1}: {a[:80]!r} != {b[:80]!r}"
    return True, None


class _Unrepresentable:
    """A value the program returned that has no JSON form: equal to nothing, like the original object."""

    def __init__(self, text: str):
        self.text = text

    def __eq__(self, other: Any) -> bool:
        return False

    def __repr__(self) -> str:
        return self.text


def decode_value(value: Any) -> Any:
    """Inverse of the supervisor's encode_value: tuples, sets, dicts, big ints, nan/inf come back."""
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if isinstance(value, dict):
        if "__tuple__" in value:
            return tuple(decode_value(v) for v in value["__tuple__"])
        if "__set__" in value:
            items = [decode_value(v) for v in value["__set__"]]
            try:
                return frozenset(items) if value.get("frozen") else set(items)
            except TypeError:
                return _Unrepresentable(repr(items))
        if "__dict__" in value:
            try:
                return {decode_value(k): decode_value(v) for k, v in value["__dict__"]}
            except TypeError:
                return _Unrepresentable("dict")
        if "__int__" in value:
            return int(value["__int__"])
        if "__float__" in value:
            return float(value["__float__"])
        if "__repr__" in value:
            return _Unrepresentable(value["__repr__"])
    return value


def functional_match_lcb(prediction: Any, expected_json: str) -> tuple[bool, str | None]:
    """The official rule: the (decoded) prediction `==` the expected JSON value (top-level tuple already a list)."""
    expected = json.loads(expected_json)
    if prediction == expected:
        return True, None
    return False, f"{_short(prediction)} != {_short(expected)}"


def functional_match_strict(output: str, expected_json: str) -> tuple[bool, str | None]:
    """The driver printed json.dumps(result); compare as JSON values, floats within 1e-9 nowhere (exact)."""
    try:
        got = json.loads(output.strip()) if output.strip() else None
    except ValueError:
        return False, f"output is not JSON: {output.strip()[:80]!r}"
    expected = json.loads(expected_json)
    if _json_equal(got, expected):
        return True, None
    return False, f"{_short(got)} != {_short(expected)}"


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return a == b


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
