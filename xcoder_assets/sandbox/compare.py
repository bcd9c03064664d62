"""Output comparison rules (pure functions).

`lines_match` is LiveCodeBench's stdin rule: whole output stripped, split on newlines, each line
stripped; line counts must match; a line matches if equal, or if every whitespace-separated token
of both lines parses as a decimal and the numbers are equal (0.50 == 0.5; no float tolerance).
Numbers are compared by an exact key (`decimal_key`), never by context arithmetic: no rounding at
28 digits, no Overflow on huge exponents, no exception from sNaN. Program output is untrusted, so
no function here raises on it; a comparison that cannot be made is a mismatch with a reason.
"""

from __future__ import annotations

import json
import math
from decimal import Context, Decimal
from typing import Any

# Only tells Decimal() what to do with a malformed token (NaN, not an exception); the constructor is
# exact whatever the context. Its flags are never read, so sharing it between threads is harmless.
_PARSE = Context(traps=[])
_DIGITS = bytes.maketrans(bytes(range(10)), b"0123456789")
_PLAIN_PADDING = 64  # most zeros a plain-notation canonical form may add (1e9999999 must not expand)

NumberKey = tuple[int, str, int]


def decimal_key(token: str) -> NumberKey | None:
    """Exact identity of the number `token` spells, or None when Decimal does not read a number there.

    (sign, significant digits without trailing zeros, adjusted exponent); every zero is (0, "0", 0),
    infinities are (sign, "Infinity", 0). NaN and sNaN are not numbers: NaN != NaN under LiveCodeBench's
    Decimal comparison, so such a line only matches identical text. Tokens Decimal rejects (also
    exponents beyond its range) are not numbers either, as in the official harness.
    """
    try:
        number = Decimal(token, _PARSE)
        if number.is_nan():
            return None
        sign, digits, exponent = number.as_tuple()
        if number.is_infinite():
            return (sign, "Infinity", 0)
        significant = bytes(digits).rstrip(b"\0").translate(_DIGITS).decode()
        if not significant:
            return (0, "0", 0)
        return (sign, significant, exponent + len(digits) - 1)
    except Exception:  # hostile token (memory, odd input): it is simply not a number
        return None


def canonical_number(token: str) -> str | None:
    """One exact, bounded spelling per `decimal_key` (None for non-numbers): plain notation unless that
    would add more than 64 zeros, else scientific (1.25E+999999999999999999). Never rounds; the result
    reads back (Decimal, decimal_key) as the same number."""
    key = decimal_key(token)
    if key is None:
        return None
    sign, digits, adjusted = key
    minus = "-" if sign else ""
    if digits in ("0", "Infinity"):
        return minus + digits
    if 0 <= adjusted - len(digits) + 1 <= _PLAIN_PADDING:  # an integer
        return minus + digits + "0" * (adjusted - len(digits) + 1)
    if 0 <= adjusted < len(digits) - 1:
        return minus + digits[: adjusted + 1] + "." + digits[adjusted + 1 :]
    if -_PLAIN_PADDING <= adjusted < 0:
        return minus + "0." + "0" * (-adjusted - 1) + digits
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{minus}{mantissa}E{adjusted:+d}"


def stripped_lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().split("\n")]


def _line_keys(line: str) -> list[NumberKey] | None:
    keys = [decimal_key(token) for token in line.split()]
    return None if None in keys else keys


def lines_match(output: str, expected: str) -> tuple[bool, str | None]:
    """(match, reason of the first difference) under the LiveCodeBench rule."""
    got, want = stripped_lines(output), stripped_lines(expected)
    if len(got) != len(want):
        return False, f"mismatched output length: {len(got)} lines, expected {len(want)}"
    for index, (a, b) in enumerate(zip(got, want)):
        if a == b:
            continue
        ka, kb = _line_keys(a), _line_keys(b)
        if ka is None or kb is None or ka != kb:  # list equality: token counts must match too
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
    """Inverse of the supervisor's encode_value: tuples, sets, dicts, big ints, nan/inf come back.
    What cannot be decoded (ints over Python's int/str digit limit, garbage floats, malformed or too
    deeply nested data) becomes an _Unrepresentable, which equals nothing."""
    try:
        return _decode(value)
    except Exception as exc:  # RecursionError, ValueError, TypeError, MemoryError...
        return _Unrepresentable(f"<undecodable value: {type(exc).__name__}>")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if "__tuple__" in value:
            return tuple(_decode(v) for v in value["__tuple__"])
        if "__set__" in value:
            items = [_decode(v) for v in value["__set__"]]
            try:
                return frozenset(items) if value.get("frozen") else set(items)
            except TypeError:
                return _Unrepresentable(repr(items))
        if "__dict__" in value:
            try:
                return {_decode(k): _decode(v) for k, v in value["__dict__"]}
            except TypeError:
                return _Unrepresentable("dict")
        if "__int__" in value:
            return int(value["__int__"])
        if "__float__" in value:
            return float(value["__float__"])
        if "__repr__" in value:
            return _Unrepresentable(str(value["__repr__"]))
    return value


def functional_match_lcb(prediction: Any, expected_json: str) -> tuple[bool, str | None]:
    """The official rule: the (decoded) prediction `==` the expected JSON value (top-level tuple already a list)."""
    try:
        expected = json.loads(expected_json)
        if prediction == expected:
            return True, None
    except Exception as exc:  # deep nesting, unparseable expected value: no verdict of OK
        return False, f"cannot compare: {type(exc).__name__}"
    return False, f"{_short(prediction)} != {_short(expected)}"


def functional_match_strict(output: str, expected_json: str) -> tuple[bool, str | None]:
    """The driver printed json.dumps(result); compare as JSON values, floats within 1e-9 nowhere (exact)."""
    try:
        got = json.loads(output.strip()) if output.strip() else None
    except Exception:  # ValueError (also ints over 4300 digits), RecursionError
        return False, f"output is not JSON: {output.strip()[:80]!r}"
    try:
        expected = json.loads(expected_json)
        if _json_equal(got, expected):
            return True, None
    except Exception as exc:
        return False, f"cannot compare: {type(exc).__name__}"
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
    try:
        text = repr(value)
    except Exception as exc:  # repr of a >4300-digit int raises, deep nesting recurses
        return f"<{type(value).__name__}: no repr ({type(exc).__name__})>"
    return text if len(text) <= 80 else text[:77] + "..."
