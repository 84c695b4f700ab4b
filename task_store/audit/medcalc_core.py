"""The pieces of a MedCalcBench audit: which calculator, one recomputation, the comparison."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date

from scoring.keys import AnswerKey, DateKey, GestationalAgeKey, RangeKey
from task_store.adapters.medcalc import answer_key
from task_store.audit.entities import Entities, EntityError
from task_store.audit.medcalc_extra import EXTRA_CALCULATORS
from task_store.audit.medcalc_pack import PACK_INPUTS, Answer, pack_name_to_slug, run_formula
from task_store.audit.models import Status

DATASET = "medcalcbench"
Compute = Callable[[Entities], Answer]


@dataclass(frozen=True)
class Calculator:
    """An independent calculator for one MedCalcBench calculator name."""

    source: str
    compute: Compute


@functools.cache
def calculator_for(name: str) -> Calculator | None:
    """The audit's own calculator for `name`, else the pack's, else None."""
    if name in EXTRA_CALCULATORS:
        return Calculator("audit:" + name, EXTRA_CALCULATORS[name])
    slug = pack_name_to_slug().get(name)
    if slug is None:
        return None
    inputs = PACK_INPUTS[slug]
    return Calculator("pack:" + slug, lambda e: run_formula(slug, inputs(e)))


@dataclass
class Outcome:
    """One recomputation: its value, or why there is none, and the readings it needed."""

    value: Answer | None = None
    error: str = ""
    notes: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    units: dict[str, tuple[str, ...]] = field(default_factory=dict)


def recompute(calc: Calculator, raw: Mapping[str, object], *, literal: bool) -> Outcome:
    """`calc` over the entities; `literal` takes every unit as written (see `Entities`)."""
    e = Entities(raw, literal=literal)
    try:
        value = calc.compute(e)
    except EntityError as exc:
        return Outcome(error=str(exc), notes=e.notes)
    except Exception as exc:  # an audit calculator failing on odd entities must not stop the audit
        return Outcome(error=f"could not compute from the entities: {type(exc).__name__}: {exc}")
    return Outcome(value, notes=e.notes, flags=e.flags_read, units=e.units_read)


def agrees(key: AnswerKey, value: Answer) -> bool:
    """Whether `value` passes the official key (the same rule the verifier applies)."""
    if isinstance(key, DateKey):
        return isinstance(value, date) and value.isoformat() == key.date
    if isinstance(key, GestationalAgeKey):
        return value == (key.weeks, key.days)
    if isinstance(key, RangeKey) and isinstance(value, float):
        slack = 1e-9 * max(1.0, abs(value))
        return key.lower - slack <= value <= key.upper + slack
    return False


def show(value: Answer) -> str:
    """A recomputed value in the record's own answer format."""
    if isinstance(value, date):
        return value.strftime("%m/%d/%Y")
    if isinstance(value, tuple):
        return f"('{value[0]} weeks', '{value[1]} days')"
    return f"{value:.8g}"


def official_key(raw: Mapping[str, object]) -> AnswerKey:
    key, _kind = answer_key(str(raw["Ground Truth Answer"]), str(raw["Lower Limit"]), str(raw["Upper Limit"]))
    return key


def update(status: Status, cause: str, value: Answer | None = None, confident: bool = False) -> dict[str, object]:
    """Field updates for an `AuditFinding`."""
    return {
        "status": status, "cause": cause, "confident": confident,
        "recomputed": None if value is None else show(value),
    }
