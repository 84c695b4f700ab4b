"""Lab histories of the `medgym_fhir` EHR, made to order: each (patient, lab) follows one `Plan`.

A plan fixes when the newest measurement was taken (or that there is none) and its value; the
other measurements are placed around it: `within_day` more inside the last 24 hours (older than
the newest) and `older` more before that. Values are drawn from the lab's usual range unless the
plan fixes them, so each task's edge case (a value in a given dosing band, nothing in the last
24 hours, a result older than a year, no result at all) is certain.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from task_store.pack.fhir_ehr import NOW, TASK_LABS, FhirPatient, lab

DAY = timedelta(hours=24)
YEARS_BACK = timedelta(days=3 * 365)
#: usual range (low, high) and decimals of each task lab
RANGES = {"MG": (1.6, 2.6, 1), "K": (3.5, 5.1, 1), "GLU": (70.0, 240.0, 0), "A1C": (4.8, 10.5, 1)}


@dataclass(frozen=True)
class Plan:
    newest_age: timedelta | None  # None: the patient has no measurement of this lab
    newest_value: float | None = None  # None: drawn from the usual range
    within_day: int = 0  # further measurements in the last 24 h (all older than the newest)
    older: int = 3  # measurements before both the newest and the last 24 h
    older_range: tuple[float, float] | None = None  # None: the usual range


NONE = Plan(None, older=0)


def value(rng: random.Random, code: str, bounds: tuple[float, float] | None = None) -> float:
    low, high, decimals = RANGES[code]
    low, high = bounds or (low, high)
    drawn = round(rng.uniform(low, high), decimals)
    return float(int(drawn)) if decimals == 0 else drawn


def background(rng: random.Random) -> Plan:
    """A patient no task is about: an ordinary history, sometimes with results from the last day."""
    if rng.random() < 0.15:
        return NONE
    recent = rng.random() < 0.4
    age = timedelta(minutes=rng.randrange(20, 20 * 60)) if recent else timedelta(days=rng.uniform(2, 700))
    return Plan(age, within_day=rng.randrange(0, 3) if recent else 0, older=rng.randrange(1, 6))


def add_history(patient: FhirPatient, code: str, plan: Plan, rng: random.Random) -> None:
    """Append the Observations of `plan` for lab `code` to the patient's resources."""
    if plan.newest_age is None:
        return
    display, unit = TASK_LABS[code]
    newest = (NOW - plan.newest_age).replace(second=0, microsecond=0)
    newest_value = plan.newest_value if plan.newest_value is not None else value(rng, code)
    points = [(newest, newest_value)]
    points += [(t, value(rng, code)) for t in _times(rng, NOW - DAY + timedelta(minutes=1), newest, plan.within_day)]
    start = min(newest, NOW - DAY) - timedelta(hours=1)
    points += [(t, value(rng, code, plan.older_range)) for t in _times(rng, NOW - YEARS_BACK, start, plan.older)]
    for moment, number in sorted(points):
        patient.resources.append(lab(patient, code, moment, number, unit, display))


def _times(rng: random.Random, start: datetime, end: datetime, count: int) -> list[datetime]:
    """Up to `count` distinct whole minutes strictly between `start` and `end`."""
    minutes = int((end - start).total_seconds() // 60)
    if count <= 0 or minutes <= 1:
        return []
    picks = rng.sample(range(1, minutes), min(count, minutes - 1))
    return [start.replace(second=0, microsecond=0) + timedelta(minutes=m) for m in sorted(picks)]
