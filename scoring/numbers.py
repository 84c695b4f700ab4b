"""Reading one submitted number: strict forms, no units, no surrounding text.

Accepted: an int or float (never a bool), or a string holding exactly one number with optional
surrounding whitespace, a leading sign (`+`, `-` or the Unicode minus), thousands separators in
groups of three (`1,234.5`) and scientific notation (`1.5e3`). Non-finite values are rejected.
"""

from __future__ import annotations

import math
import re
from typing import TypeGuard

from medgym.errors import AnswerFormatError
from scoring.score import AnswerValue, Scalar

_DIGITS = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)"  # plain, or grouped in threes by commas
_NUMBER = re.compile(rf"[+-]?(?:{_DIGITS}(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_PERCENT = re.compile(r"(?P<number>.+?)\s*%")
_UNICODE_MINUS = "\u2212"
_MAX_DIGITS = 300  # longer integers are read as floats, so that every number converts to a float

ONE_NUMBER = (
    "a single number (digits with an optional sign, decimal point, comma thousands separators or exponent), "
    "with no units or other text"
)


def single(answer: AnswerValue, expected: str) -> Scalar:
    """The one scalar of a submission; a one-item list counts as its item."""
    if isinstance(answer, list):
        if len(answer) != 1:
            raise AnswerFormatError(f"expected {expected}; got a list of {len(answer)} items")
        return answer[0]
    return answer


def parse_number_text(text: str) -> int | float | None:
    """The number a string holds, or None when it is not exactly one number.

    Integer-written strings give an `int` (exact for large values); others a `float`.
    """
    clean = text.strip().replace(_UNICODE_MINUS, "-")
    if not _NUMBER.fullmatch(clean):
        return None
    plain = clean.replace(",", "")
    if _INTEGER.fullmatch(plain) and len(plain) <= _MAX_DIGITS:
        return int(plain)
    return float(plain)


def is_huge(value: Scalar) -> TypeGuard[int]:
    """An int too long to convert to a float or (past 4300 digits) to a string."""
    return isinstance(value, int) and abs(value) >= 10**_MAX_DIGITS


def as_number(value: Scalar) -> int | float | None:
    """A scalar read as a number, or None when it is not one (bools and None are not numbers)."""
    if isinstance(value, bool) or value is None:
        return None
    if is_huge(value):
        return math.inf if value > 0 else -math.inf
    if isinstance(value, int | float):
        return value
    return parse_number_text(value)


def finite_number(answer: AnswerValue, *, percent: bool = False) -> int | float:
    """Exactly one finite number, or AnswerFormatError.

    With `percent`, a string such as "85%" is read as 0.85.
    """
    value = single(answer, ONE_NUMBER)
    number = _percent(value) if percent and isinstance(value, str) else None
    if number is None:
        number = as_number(value)
    if number is None:
        raise AnswerFormatError(f"expected {ONE_NUMBER}; got {show(value)}")
    if isinstance(number, float) and not math.isfinite(number):
        raise AnswerFormatError(f"expected a finite number; got {show(value)}")
    return number


def _percent(text: str) -> float | None:
    match = _PERCENT.fullmatch(text.strip())
    number = parse_number_text(match["number"]) if match else None
    return None if number is None else number / 100


def show(value: Scalar, limit: int = 80) -> str:
    """A short echo of what was submitted, for feedback (never of the expected answer)."""
    if is_huge(value):
        return f"an integer of more than {_MAX_DIGITS} digits"
    text = value.strip() if isinstance(value, str) else repr(value)
    if not text:
        return "an empty string"
    return text if len(text) <= limit else text[: limit - 3] + "..."
