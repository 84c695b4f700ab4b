"""What one clinical calculator contributes to the pack: metadata, sampler, truth and solution."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from task_store.pack.calc_patients import Note, Values

CalcKind = Literal["number", "integer", "date", "gestational_age"]
Sampler = Callable[[random.Random], tuple[Values, Note]]
Params = Callable[[Values], dict[str, object]]


@dataclass(frozen=True)
class Calculator:
    """One calculator: MedCalcBench name and question, a patient sampler, and two implementations.

    `medcalc` names the reference function of the medcalc-bench package that gives the ground
    truth, fed with `params(values)`; `formula` is an independent Python implementation (source
    defining `answer(v)`) that becomes the task's reference solution.
    """

    slug: str
    name: str
    kind: CalcKind
    question: str
    summary: str
    sample: Sampler
    medcalc: tuple[str, str]
    params: Params
    formula: str
    tolerance: float | None = None

    @property
    def rel_tol(self) -> float:
        """Accepted relative deviation: 5% for decimal results, exact for scores and dates."""
        if self.tolerance is not None:
            return self.tolerance
        return 0.05 if self.kind == "number" else 0.0


SOLUTION_PRELUDE = '''import json
import math
from datetime import date, timedelta


def kg(v):
    """Weight in kg."""
    return v["weight"] * 0.453592 if v["weight_unit"] == "lbs" else v["weight"]


def cm(v):
    """Height in cm."""
    return v["height"] * 2.54 if v["height_unit"] == "in" else v["height"]


def celsius(v):
    """Temperature in degrees Celsius."""
    return (v["temp"] - 32) * 5 / 9 if v["temp_unit"] == "°F" else v["temp"]
'''


def solution_source(formula: str, values: Values) -> str:
    """A self-contained program that prints the answer as JSON on its last line."""
    lines = ",\n".join(f"    {name!r}: {value!r}" for name, value in sorted(values.items()))
    return (
        f"{SOLUTION_PRELUDE}\n\nV = {{\n{lines},\n}}\n\n\n{formula.strip()}\n\n\n"
        "print(json.dumps(answer(V)))\n"
    )


# ------------------------------------------------- medcalc parameter helpers


def weight(v: Values) -> tuple[object, object]:
    return (v["weight"], v["weight_unit"])


def height(v: Values) -> tuple[object, object]:
    return (v["height"], v["height_unit"])


def age(v: Values) -> tuple[object, str]:
    return (v["age"], "years")


def creatinine(v: Values) -> tuple[object, str]:
    return (v["creatinine"], "mg/dL")


def temperature(v: Values) -> tuple[object, str]:
    return (v["temp"], "degrees fahrenheit" if v["temp_unit"] == "°F" else "degrees celsius")


def quantity(v: Values, name: str, unit: str) -> tuple[object, str]:
    return (v[name], unit)
