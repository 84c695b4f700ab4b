"""Typed access to the medcalc-bench reference implementations (the package has no type hints).

Each medcalc function takes a dict of inputs (the shape of MedCalcBench's "Relevant Entities")
and returns {"Explanation": str, "Answer": ...}. Answers come back as a float or int, a date
string `MM/DD/YYYY`, or a gestational age `("N weeks", "M days")`; `medcalc_truth` normalises them.
"""

from __future__ import annotations

import copy
import importlib
import re
from datetime import date, datetime

Truth = float | date | tuple[int, int]

_GESTATION = re.compile(r"^(\d+) weeks?$")
_DAYS = re.compile(r"^(\d+) days?$")


def medcalc_truth(module: str, function: str, params: dict[str, object]) -> Truth:
    """Run `medcalc.<module>.<function>(params)` and return its normalised answer."""
    func = getattr(importlib.import_module(f"medcalc.{module}"), function)
    result = func(copy.deepcopy(params))
    return normalise(result["Answer"])


def normalise(answer: object) -> Truth:
    """A medcalc answer as a float, a `date`, or (weeks, days)."""
    if isinstance(answer, bool):
        raise TypeError(f"unexpected boolean answer {answer!r}")
    if isinstance(answer, int | float):
        return float(answer)
    if isinstance(answer, str):
        return datetime.strptime(answer, "%m/%d/%Y").date()
    if isinstance(answer, tuple) and len(answer) == 2:
        weeks, days = _GESTATION.match(str(answer[0])), _DAYS.match(str(answer[1]))
        if weeks and days:
            return int(weeks[1]), int(days[1])
    raise TypeError(f"unrecognised medcalc answer {answer!r}")


def medcalc_version() -> str:
    """The installed medcalc-bench version (recorded with the pack)."""
    from importlib.metadata import version

    return version("medcalc-bench")
