"""What an N-PowerAI label that matches no convention was computed from instead.

For a power label: the sample size, or the effect parameter (mean, difference, hazard ratio),
that reproduces it exactly under some convention. For a size label: the range of the effect
parameter for which it is the right size. A found source means the label answers a different
question than the one asked, so the recomputed value is trusted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from scipy import optimize

from task_store.audit.power_calc import Convention, analysis_n, power, reported_size, solve_n
from task_store.audit.power_conventions import conventions
from task_store.audit.power_parse import Design

PARAMETERS = {
    "One-sample t-test": ("mean", "expected mean"),
    "Two independent samples t-test": ("diff", "mean difference"),
    "Paired t-test": ("diff", "mean difference"),
    "Cox proportional-hazards model": ("hr", "hazard ratio"),
}


@dataclass(frozen=True)
class LabelSource:
    """What reproduces a label. `kind` groups records across a type ("label is the power at n = 42
    per group"), `detail` is this record's. `convention` is the one that reproduced it exactly, when
    the evidence is strong (a whole n, or a round parameter value, hit to 1e-6)."""

    kind: str
    detail: str
    convention: Convention | None = None

    @property
    def text(self) -> str:
        return f"{self.kind} [{self.detail}]"

    @staticmethod
    def kind_of(cause: str) -> str | None:
        """The kind of the source named in a finding's cause, if any."""
        for part in cause.split("; "):
            if part.startswith("label "):
                return part.split(" [", 1)[0]
        return None


def power_source(design: Design, official: float) -> LabelSource | None:
    """A whole n, else a round effect parameter, that reproduces a power label under some convention."""
    if design.target != "power" or not 0 < official < 1 - 1e-9:
        return None
    for conv in conventions(design):
        found = _n_source(design, conv, official) or _parameter_source(design, conv, official)
        if found is not None:
            return found
    return None


def _root(f: Callable[[float], float], low: float, high: float) -> float | None:
    try:
        return float(optimize.brentq(f, low, high, xtol=1e-12, maxiter=200))
    except (ValueError, RuntimeError, ZeroDivisionError):
        return None


def _n_source(design: Design, conv: Convention, official: float) -> LabelSource | None:
    """A whole n (in the convention's unit) whose power equals the label to 1e-6."""
    if design.n is None:
        return None
    n = _root(lambda x: power(design, conv, x) - official, 1.1, 1e6)
    if n is None:
        return None
    whole = round(n)
    if abs(power(design, conv, whole) - official) > 1e-6 * official or whole == analysis_n(design, conv, design.n):
        return None
    unit = "per group" if conv.n_unit == "per group" and _grouped(design) else ""
    stated = f"{design.n:g}" + (" in total" if conv.n_unit == "total" and _grouped(design) else "")
    shown = whole * (_groups(design) if conv.n_unit == "total" and _grouped(design) else 1)
    kind = f"label is the power at n = {shown:g}{' ' + unit if unit else ''}, not at the stated n"
    return LabelSource(kind, f"the question states n = {stated}; {conv.describe()}", conv)


def _grouped(design: Design) -> bool:
    return _groups(design) > 1


def _groups(design: Design) -> int:
    if design.task_type == "One-way ANOVA":
        return len(design.groups[0])
    return 2 if design.task_type in ("Two independent samples t-test", "Cox proportional-hazards model") else 1


def _bracket(design: Design, key: str) -> tuple[float, float]:
    """Where to look for the effect parameter: on the stated side of no effect."""
    v = design.values
    stated = v[key]
    if key == "hr":
        return (1e-3, 1 - 1e-6) if stated < 1 else (1 + 1e-6, 1e3)
    spread = 5 * max(v.get("sd", 0.0), v.get("sd1", 0.0), v.get("sd2", 0.0))  # d up to 5: n ~ 2
    if key == "mean":
        ref = v["reference"]
        return (ref - spread, ref - 1e-9) if stated < ref else (ref + 1e-9, ref + spread)
    return (1e-9, spread) if stated > 0 else (-spread, -1e-9)


def _parameter_source(design: Design, conv: Convention, official: float) -> LabelSource | None:
    """The effect parameter at which the stated design has the label's power."""
    names = PARAMETERS.get(design.task_type)
    if names is None or design.n is None:
        return None
    key, label = names
    n = analysis_n(design, conv, design.n)
    found = _root(lambda p: power(_with(design, key, p), conv, n) - official, *_bracket(design, key))
    if found is None or not _round(found) or abs(found - design.values[key]) <= 1e-3 * abs(design.values[key]):
        return None
    kind = f"label is the power at {label} {round(found, 3):g}, not at the stated {label}"
    return LabelSource(kind, f"the question states {design.values[key]:g}; {conv.describe()}", conv)


def _round(value: float) -> bool:
    """At most three decimals (to 1e-7): a parameter someone typed, not a coincidence of the search."""
    return abs(value * 1000 - round(value * 1000)) < 1e-4


def _with(design: Design, key: str, value: float) -> Design:
    return replace(design, values={**design.values, key: value})


def size_source(design: Design, conv: Convention, official: float) -> LabelSource | None:
    """The range of the effect parameter for which the label is the right size."""
    names = PARAMETERS.get(design.task_type)
    if names is None:
        return None
    key, label = names
    span = _size_span(design, key, conv, official)
    if span is None or span[0] <= design.values[key] <= span[1]:
        return None
    kind = f"label {official:g} is the size for another {label} than the question states"
    detail = (
        f"{official:g} is the size for a {label} between {span[0]:.4g} and {span[1]:.4g}, "
        f"the question states {design.values[key]:g}"
    )
    return LabelSource(kind, f"{detail}; {conv.describe()}")


_SPANS: dict[tuple[object, ...], tuple[float, float] | None] = {}


def _size_span(design: Design, key: str, conv: Convention, official: float) -> tuple[float, float] | None:
    """Memoised on everything but the parameter itself: many records share one template."""
    rest = tuple(sorted((k, v) for k, v in design.values.items() if k != key))
    memo = (design.task_type, design.alpha, design.power, rest, key, conv, official, _bracket(design, key))
    if memo not in _SPANS:
        _SPANS[memo] = _solve_span(design, key, conv, official)
    return _SPANS[memo]


def _shifted(f: Callable[[float], float], target: float) -> Callable[[float], float]:
    return lambda x: f(x) - target


def _solve_span(design: Design, key: str, conv: Convention, official: float) -> tuple[float, float] | None:
    lo, hi = _bracket(design, key)
    per_unit = official / (_groups(design) if conv.n_unit == "total" and _grouped(design) else 1)

    def unrounded(p: float) -> float:
        n = solve_n(_with(design, key, p), conv)
        return 1e12 if n is None else n

    edges = [_root(_shifted(unrounded, t), lo, hi) for t in (per_unit, per_unit - 1)]
    found = [e for e in edges if e is not None]
    if len(found) != 2 or reported_size(design, conv, per_unit) != official:
        return None
    low, high = sorted(found)
    return low, high
