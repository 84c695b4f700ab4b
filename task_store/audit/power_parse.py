"""Read the design parameters out of an N-PowerAI question.

N-PowerAI questions are templated prose, one template per (task type, target). The patterns
below cover the public templates; a question they cannot read raises `ParseError` naming the
missing parameter, and its record is reported as not auditable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from medgym.errors import DataError

NUMBER = r"(\d+(?:\.\d+)?|\.\d+)"
Target = Literal["size", "power"]


class ParseError(DataError):
    """A parameter the audit needs could not be read from the question."""


@dataclass(frozen=True)
class Design:
    """What a question specifies. `n` is the sample size as the question states it (power tasks)."""

    task_type: str
    target: Target
    alpha: float | None
    power: float | None
    n: float | None
    stated_sides: int | None
    values: dict[str, float] = field(default_factory=dict)
    groups: list[list[float]] = field(default_factory=list)


def _first(question: str, what: str, *patterns: str) -> float:
    for pattern in patterns:
        match = re.search(pattern, question, flags=re.IGNORECASE | re.DOTALL)
        if match:
            return float(match.group(1))
    raise ParseError(f"no {what} in the question")


def _alpha(q: str) -> float | None:
    """The stated significance level; None when the question does not state one."""
    try:
        return _first(
            q, "significance level", rf"significance level (?:of |= ?)?{NUMBER}", rf"alpha (?:of |= ?){NUMBER}"
        )
    except ParseError:
        return None


def _power(q: str) -> float:
    value = _first(q, "power", rf"{NUMBER}% (?:of )?power", rf"power of {NUMBER}%?", rf"{NUMBER} power")
    return value / 100 if value > 1 else value


def _sides(q: str) -> int | None:
    text = q.lower()
    if re.search(r"two[- ]sided|two[- ]tailed|not equal", text):
        return 2
    if re.search(r"one[- ]sided|one[- ]tailed|lower[- ]tailed|upper[- ]tailed", text):
        return 1
    return None


def _numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(NUMBER, text)]


def parse(task_type: str, target: Target, question: str) -> Design:
    """The design of one N-PowerAI question."""
    reader = _READERS.get(task_type)
    if reader is None:
        raise ParseError(f"no question reader for task type {task_type!r}")
    values, groups, n = reader(question, target)
    power = _power(question) if target == "size" else None
    return Design(task_type, target, _alpha(question), power, n, _sides(question), values, groups)


Read = tuple[dict[str, float], list[list[float]], float | None]


def _n(q: str, target: Target, *patterns: str) -> float | None:
    return _first(q, "sample size", *patterns) if target == "power" else None


def _one_sample(q: str, target: Target) -> Read:
    values = {
        "reference": _first(q, "reference mean", rf"in general is {NUMBER}", rf"difference from {NUMBER}"),
        "mean": _first(q, "expected mean", rf"sample to be {NUMBER}", rf"mean of {NUMBER}"),
        "sd": _first(q, "standard deviation", rf"standard deviation of {NUMBER}"),
    }
    return values, [], _n(q, target, rf"recruited {NUMBER}", rf"sample of {NUMBER}")


def _two_samples(q: str, target: Target) -> Read:
    sds = re.findall(rf"standard deviation [^.]*?to be {NUMBER}", q)
    if len(sds) < 2:
        raise ParseError("no two group standard deviations in the question")
    values = {
        "diff": _first(q, "mean difference", rf"difference in [^.]*? will be {NUMBER}", rf"difference of {NUMBER}"),
        "sd1": float(sds[0]),
        "sd2": float(sds[1]),
    }
    return values, [], _n(q, target, rf"has {NUMBER} patients", rf"{NUMBER} patients", rf"{NUMBER} per group")


def _paired(q: str, target: Target) -> Read:
    values = {
        "diff": _first(q, "mean difference", rf"reduce [^.]*? {NUMBER} units", rf"difference of {NUMBER}"),
        "sd": _first(q, "standard deviation", rf"standard deviation of {NUMBER}"),
    }
    if re.search(r"correlation coefficient", q):
        values["r"] = _first(q, "correlation", rf"correlation coefficient of {NUMBER}")
    return values, [], _n(q, target, rf"random sample of {NUMBER}", rf"sample of {NUMBER}")


def _anova(q: str, target: Target) -> Read:
    match = re.search(r"(?:group|groups) will be ([\d.,\s]+(?:and [\d.]+)?),? respectively", q)
    if not match:
        raise ParseError("no group means in the question")
    means = _numbers(match.group(1))
    sd = _first(q, "standard deviation", rf"national value of {NUMBER}", rf"standard deviation [^.]*?{NUMBER}")
    n = _n(q, target, rf"group of {NUMBER} students", rf"{NUMBER} (?:students|participants|subjects) (?:in )?each")
    return {"sd": sd, "k": float(len(means))}, [means], n


def _chi_square(q: str, target: Target) -> Read:
    rows = [
        _numbers(m.group(1))
        for m in re.finditer(r"((?:0?\.\d+,\s*)+(?:and\s+)?0?\.\d+)\s+in\s+\w+", q)
    ]
    if len(rows) < 2 or len({len(r) for r in rows}) != 1:
        raise ParseError("no table of group proportions in the question")
    return {}, rows, _n(q, target, rf"sample of {NUMBER}", rf"total of {NUMBER}")


def _cox(q: str, target: Target) -> Read:
    match = re.search(rf"groups? \w+ and \w+ are {NUMBER} and {NUMBER}", q)
    if not match:
        raise ParseError("no failure probabilities in the question")
    values = {
        "p1": float(match.group(1)),
        "p2": float(match.group(2)),
        "hr": _first(q, "hazard ratio", rf"hazard ratio [^.]*?(?:assumed to be|of) {NUMBER}"),
    }
    return values, [], _n(q, target, rf"having {NUMBER} person", rf"{NUMBER} (?:participants|patients) (?:in )?each")


_READERS = {
    "One-sample t-test": _one_sample,
    "Two independent samples t-test": _two_samples,
    "Paired t-test": _paired,
    "One-way ANOVA": _anova,
    "Chi-square test of independence": _chi_square,
    "Cox proportional-hazards model": _cox,
}
