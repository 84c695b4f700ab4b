"""Which conventions to try for a question, and which one a task type's labels follow.

Votes are counted per dimension (sidedness, effect size, n unit, test distribution, rounding)
from the records that settle that dimension: a record whose matching conventions all share one
value of a dimension, where other values were tried and failed. The type's convention is the
one with the most votes, dimension by dimension; it becomes one instruction sentence.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable

from task_store.audit.power_calc import GROUPS, Convention
from task_store.audit.power_parse import Design

_EFFECTS = {
    "One-sample t-test": ("d",),
    "Paired t-test": ("dz",),
    "Two independent samples t-test": ("d_rms", "d_mean"),
    "One-way ANOVA": ("f_k", "f_k1", "f2", "eta2"),
    "Chi-square test of independence": ("w",),
    "Cox proportional-hazards model": ("events",),
}
_METHODS = {
    "One-way ANOVA": ("F",),
    "Chi-square test of independence": ("chi2",),
    "Cox proportional-hazards model": ("freedman", "schoenfeld"),
}
DIMENSIONS = ("sides", "effect", "n", "method", "rounding")


def conventions(design: Design) -> list[Convention]:
    """Every convention tried for `design`, the usual reading first."""
    effects = _EFFECTS[design.task_type] + (("d_r",) if "r" in design.values else ())
    methods = _METHODS.get(design.task_type, ("t", "z"))
    sides = (0,) if methods[0] in ("F", "chi2") else (2, 1)
    grouped = GROUPS.get(design.task_type, 1) > 1 or design.task_type == "One-way ANOVA"
    units = ("per group", "total") if grouped else ("total",)
    rounding = ("up", "nearest") if design.target == "size" else ("",)
    return [Convention(*c) for c in itertools.product(sides, effects, units, methods, rounding)]


def value(dimension: str, design: Design, conv: Convention) -> str:
    """The value of one dimension of `conv`, with sidedness relative to what the question states."""
    if dimension == "sides":
        if conv.sides == 0:
            return "n/a"
        name = "two-sided" if conv.sides == 2 else "one-sided"
        if design.stated_sides is None:
            return f"{name} (unstated)"
        return "as stated" if conv.sides == design.stated_sides else "against the statement"
    return {"effect": conv.effect, "n": conv.n_unit, "method": conv.method, "rounding": conv.rounding}[dimension]


def vote(votes: dict[str, Counter[str]], design: Design, matches: list[Convention]) -> None:
    """Add one record's decisive votes."""
    tried = conventions(design)
    for dim in DIMENSIONS:
        options = {value(dim, design, c) for c in tried}
        chosen = {value(dim, design, c) for c in matches}
        if matches and len(options) > 1 and len(chosen) == 1:
            votes.setdefault(dim, Counter())[chosen.pop()] += 1


def preferred(design: Design, votes: dict[str, Counter[str]], among: Iterable[Convention] | None = None) -> Convention:
    """The convention the type's votes favour (first tried wins ties)."""
    pool = list(among) if among is not None else conventions(design)
    return max(pool, key=lambda c: sum(votes.get(d, Counter())[value(d, design, c)] for d in DIMENSIONS))


def summary(matches: list[Convention], design: Design) -> str:
    """The matching conventions, listed when few, else per dimension."""
    if len(matches) <= 3:
        return "matches: " + " | ".join(c.describe() for c in matches)
    parts = []
    for dim in DIMENSIONS:
        values = sorted({value(dim, design, c) for c in matches} - {"n/a", ""})
        if values:
            parts.append(f"{dim}: {' or '.join(values)}")
    return f"matches {len(matches)} conventions ({'; '.join(parts)})"
