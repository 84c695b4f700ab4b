"""EHR answer items: normalisation and set comparison with numeric tolerance.

Each item becomes one of four kinds: "no result" (None, "None", "null", "", NaN), a number
(ints, floats, numeric strings; True/False and "true"/"false" as 1/0), a date-time (ISO date or
date-time; a date is midnight of that day) or text (trimmed, case-folded). Integer strings with a
leading zero ("0389", "0123456789") are codes and stay text.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime

from medgym import pyast
from medgym.errors import AnswerFormatError
from scoring.numbers import is_huge, parse_number_text
from scoring.score import AnswerValue, Scalar

MAX_ITEMS = 10_000
MAX_LITERAL_CHARS = 1_000_000
MAX_PYTHON_LITERAL_CHARS = 64 * 1024  # ast.literal_eval is ~100x slower than JSON: only small literals
MAX_NESTING = 3
REL_TOL = 1e-4
ABS_TOL = 1e-6

_NUMERIC = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_CODE = re.compile(r"[+-]?0[0-9]+")
_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[ T][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?)?")
_NULL_WORDS = frozenset({"", "none", "null", "nan"})
_BOOL_WORDS = {"true": 1, "false": 0}


@dataclass(frozen=True)
class Null:
    """No result (an empty answer, or a NULL cell)."""


@dataclass(frozen=True)
class Number:
    value: int | float
    # Written as an integer: an expected exact number must be matched exactly (not part of equality,
    # so 1 and 1.0 are one distinct item).
    exact: bool = field(compare=False)


@dataclass(frozen=True)
class Moment:
    value: datetime


@dataclass(frozen=True)
class Text:
    value: str


Item = Null | Number | Moment | Text


@dataclass(frozen=True)
class Comparison:
    """How a submitted item set differs from the expected one (counts of distinct items)."""

    submitted: int
    unexpected: int
    missing: int

    @property
    def equal(self) -> bool:
        return self.unexpected == 0 and self.missing == 0


def compare(expected: list[str], answer: AnswerValue) -> Comparison:
    """Compare the normalised sets, pairing items by `matches` (not by string equality)."""
    wanted = normalise_all(expected)
    given = normalise_all(submitted_values(answer))
    unexpected = sum(1 for item in given if not any(matches(want, item) for want in wanted))
    missing = sum(1 for want in wanted if not any(matches(want, item) for item in given))
    return Comparison(submitted=len(given), unexpected=unexpected, missing=missing)


def normalise_all(values: list[Scalar] | list[str]) -> list[Item]:
    """Distinct normalised items; an answer with no items at all is the single "no result" item."""
    items = list(dict.fromkeys(normalise(value) for value in values))
    return items or [Null()]


def matches(expected: Item, submitted: Item) -> bool:
    """Numbers within tolerance (exactly, when the expected one is an integer); others equal."""
    if isinstance(expected, Number) and isinstance(submitted, Number):
        if expected.exact:
            return submitted.value == expected.value
        tolerance = max(ABS_TOL, REL_TOL * abs(expected.value))
        return abs(submitted.value - expected.value) <= tolerance
    return expected == submitted


def normalise(value: Scalar) -> Item:
    """One answer item in its comparable form."""
    if value is None:
        return Null()
    if isinstance(value, bool):
        return Number(int(value), exact=True)
    if isinstance(value, int | float):
        return _number(value)
    return _normalise_text(value.strip())


def _number(value: int | float) -> Item:
    if isinstance(value, float) and math.isnan(value):
        return Null()
    if is_huge(value):
        return Number(math.inf if value > 0 else -math.inf, exact=False)
    return Number(value, exact=isinstance(value, int))


def _normalise_text(text: str) -> Item:
    folded = text.casefold()
    if folded in _NULL_WORDS:
        return Null()
    if folded in _BOOL_WORDS:
        return Number(_BOOL_WORDS[folded], exact=True)
    if _NUMERIC.fullmatch(text) and not _CODE.fullmatch(text):
        number = parse_number_text(text)
        if number is not None:
            return Number(number, exact=isinstance(number, int))
    if _MOMENT.fullmatch(text):
        try:
            return Moment(datetime.fromisoformat(text))
        except ValueError:  # e.g. month 13: not a date, so compared as text
            pass
    return Text(folded)


def submitted_values(answer: AnswerValue) -> list[Scalar]:
    """The submitted items: a list, a string holding a list literal, or one scalar."""
    if isinstance(answer, list):
        return _bounded(list(answer))
    if isinstance(answer, str) and answer.strip().startswith("[") and answer.strip().endswith("]"):
        return _bounded(_flatten(_parse_literal(answer.strip())))
    return [answer]


def _bounded(values: list[Scalar]) -> list[Scalar]:
    if len(values) > MAX_ITEMS:
        raise AnswerFormatError(f"expected at most {MAX_ITEMS} answer items; got {len(values)}")
    return values


def _parse_literal(text: str) -> object:
    """A JSON or Python list literal ("['po', 'po/ng']", '[1, null]')."""
    if len(text) > MAX_LITERAL_CHARS:
        raise AnswerFormatError(f"the submitted list is longer than {MAX_LITERAL_CHARS} characters")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    if len(text) > MAX_PYTHON_LITERAL_CHARS:
        raise AnswerFormatError(f"a submitted list longer than {MAX_PYTHON_LITERAL_CHARS} characters must be JSON "
                                '(e.g. ["first item", "second item"])')
    try:
        return pyast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise AnswerFormatError(
            "the answer looks like a list but is not a JSON or Python list literal; submit a list of "
            'items, e.g. ["first item", "second item"]'
        ) from None


def _flatten(value: object, depth: int = 0) -> list[Scalar]:
    """Scalars of a parsed literal, nested lists and tuples (rows) flattened in order."""
    if isinstance(value, list | tuple):
        if depth >= MAX_NESTING:
            raise AnswerFormatError(f"the submitted list is nested more than {MAX_NESTING} levels deep")
        return [scalar for element in value for scalar in _flatten(element, depth + 1)]
    if value is None or isinstance(value, str | int | float | bool):
        return [value]
    kind = type(value).__name__
    raise AnswerFormatError(f"answer items must be strings, numbers, booleans or null; got {kind}")
