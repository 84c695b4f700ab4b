"""Power and sample size under each plausible convention, with scipy's noncentral distributions.

A `Convention` fixes what N-PowerAI questions leave open: sidedness, the effect-size definition,
whether n counts one group or everyone, the test distribution, and how a size is rounded.
The formulas are the textbook ones (Cohen 1988; Freedman 1982 and Schoenfeld 1983 for the
log-rank/Cox case); statsmodels' `TTestPower`, `TTestIndPower`, `FTestAnovaPower` and
`GofChisquarePower` give the same numbers (checked in the tests). scipy's special functions are
used directly: statsmodels returns NaN for two-sided t power when the effect is very large, and
the `scipy.stats` wrappers cost ~100 µs a call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import optimize, special

from task_store.audit.power_parse import Design

DEFAULT_ALPHA = 0.05
GROUPS = {"Two independent samples t-test": 2, "Cox proportional-hazards model": 2}


@dataclass(frozen=True)
class Convention:
    """One reading of an under-specified question."""

    sides: int  # 1 or 2; 0 for F and chi-square tests (one tail by construction)
    effect: str  # key of `EFFECTS` for the task type
    n_unit: str  # "per group" or "total"
    method: str  # "t", "z", "F", "chi2", "freedman", "schoenfeld"
    rounding: str = "up"  # "up" or "nearest" (sizes only)

    def describe(self) -> str:
        sides = {0: "", 1: "one-sided", 2: "two-sided"}[self.sides]
        parts = [sides, METHODS[self.method], EFFECTS[self.effect], f"n {self.n_unit}"]
        return ", ".join(p for p in parts if p) + (f", rounded {self.rounding}" if self.rounding else "")


METHODS = {
    "t": "noncentral t", "z": "normal approximation", "F": "noncentral F", "chi2": "noncentral chi-square",
    "freedman": "Freedman's formula", "schoenfeld": "Schoenfeld's formula",
}
EFFECTS = {
    "d": "d = |mean - reference| / SD",
    "dz": "d = |mean difference| / SD (the SD of the differences)",
    "d_r": "d = |mean difference| / (SD x sqrt(2(1 - r)))",
    "d_rms": "d = |difference| / sqrt((SD1² + SD2²) / 2)",
    "d_mean": "d = |difference| / ((SD1 + SD2) / 2)",
    "f_k": "Cohen's f = population SD of the group means (divide by k) / SD",
    "f_k1": "Cohen's f = sample SD of the group means (divide by k - 1) / SD",
    "f2": "Cohen's f² used as f",
    "eta2": "eta² used as f",
    "w": "Cohen's w over equal-sized groups, df = (rows - 1)(columns - 1)",
    "events": "events = n x average failure probability",
}


def effect_size(design: Design, effect: str) -> float:
    v = design.values
    if effect == "d":
        return abs(v["mean"] - v["reference"]) / v["sd"]
    if effect == "dz":
        return abs(v["diff"]) / v["sd"]
    if effect == "d_r":
        return abs(v["diff"]) / (v["sd"] * math.sqrt(2 * (1 - v["r"])))
    if effect in ("d_rms", "d_mean"):
        sd = math.sqrt((v["sd1"] ** 2 + v["sd2"] ** 2) / 2) if effect == "d_rms" else (v["sd1"] + v["sd2"]) / 2
        return abs(v["diff"]) / sd
    if effect in ("f_k", "f_k1", "f2", "eta2"):
        return _anova_effect(design.groups[0], v["sd"], effect)
    if effect == "w":
        return cohens_w(design.groups)
    return 0.0


def _anova_effect(means: list[float], sd: float, effect: str) -> float:
    grand = sum(means) / len(means)
    squares = sum((m - grand) ** 2 for m in means)
    f = math.sqrt(squares / (len(means) - (1 if effect == "f_k1" else 0))) / sd
    return f * f if effect == "f2" else f * f / (1 + f * f) if effect == "eta2" else f


def cohens_w(rows: list[list[float]]) -> float:
    """Cohen's w for equal-sized groups (rows), each row that group's category proportions."""
    total = sum(sum(row) for row in rows)
    joint = [[p / total for p in row] for row in rows]
    row_sums = [sum(row) for row in joint]
    col_sums = [sum(col) for col in zip(*joint, strict=True)]
    return math.sqrt(
        sum(
            (joint[r][c] - row_sums[r] * col_sums[c]) ** 2 / (row_sums[r] * col_sums[c])
            for r in range(len(rows))
            for c in range(len(col_sums))
            if row_sums[r] * col_sums[c] > 0
        )
    )


def alpha_of(design: Design) -> float:
    return design.alpha if design.alpha is not None else DEFAULT_ALPHA


def _t_power(nc: float, df: float, alpha: float, sides: int) -> float:
    """Noncentral t power. The lower tail is the upper tail of the mirrored distribution: the CDF
    far below the mean comes back NaN, its mirror image is simply ~0."""
    crit = special.stdtrit(df, 1 - alpha / sides)
    upper = 1 - special.nctdtr(df, nc, crit)
    return float(upper + (1 - special.nctdtr(df, -nc, crit) if sides == 2 else 0.0))


def _z_power(nc: float, alpha: float, sides: int) -> float:
    crit = -special.ndtri(alpha / sides)
    return float(special.ndtr(nc - crit) + (special.ndtr(-nc - crit) if sides == 2 else 0.0))


def power(design: Design, conv: Convention, n: float) -> float:
    """Power with `n` in the design's analysis unit (per group for group designs, else total)."""
    es, alpha = effect_size(design, conv.effect), alpha_of(design)
    if design.task_type == "Cox proportional-hazards model":
        return _cox_power(design, conv, n, alpha)
    if conv.method == "F":
        k = len(design.groups[0])
        crit = special.fdtri(k - 1, n * k - k, 1 - alpha)
        return float(1 - special.ncfdtr(k - 1, n * k - k, es * es * n * k, crit))
    if conv.method == "chi2":
        rows, cols = len(design.groups), len(design.groups[0])
        df = (rows - 1) * (cols - 1)
        return float(1 - special.chndtr(special.chdtri(df, alpha), df, es * es * n))
    two = GROUPS.get(design.task_type, 1) == 2
    nc = es * math.sqrt(n / 2 if two else n)
    if conv.method == "z":
        return _z_power(nc, alpha, conv.sides)
    return _t_power(nc, 2 * n - 2 if two else n - 1, alpha, conv.sides)


def _cox_power(design: Design, conv: Convention, n: float, alpha: float) -> float:
    v = design.values
    events = n * 2 * (v["p1"] + v["p2"]) / 2
    if conv.method == "freedman":
        z = math.sqrt(events) * abs(1 - v["hr"]) / (1 + v["hr"])
    else:
        z = math.sqrt(events) * abs(math.log(v["hr"])) / 2
    return float(special.ndtr(z + special.ndtri(alpha / conv.sides)))


def analysis_n(design: Design, conv: Convention, stated: float) -> float:
    """The stated n in the analysis unit: a total is split over the groups."""
    groups = _groups(design)
    return stated / groups if conv.n_unit == "total" and groups > 1 else stated


def _groups(design: Design) -> int:
    if design.task_type == "One-way ANOVA":
        return len(design.groups[0])
    return GROUPS.get(design.task_type, 1)


def solve_n(design: Design, conv: Convention) -> float | None:
    """The unrounded analysis-unit n reaching the design's power, or None if none does."""
    goal = design.power or 0.8
    low = 1.1 if design.task_type != "Chi-square test of independence" else 1e-6
    high = 8.0
    try:
        if power(design, conv, low) >= goal:
            return low
        while power(design, conv, high) < goal:
            high *= 4
            if high > 1e8:
                return None
        return float(optimize.brentq(lambda n: power(design, conv, n) - goal, low, high, xtol=1e-9))
    except (ValueError, ZeroDivisionError):
        return None


def reported_size(design: Design, conv: Convention, n: float) -> int:
    """The size as the answer would report it: rounded, and multiplied out for a total."""
    whole = math.ceil(n - 1e-9) if conv.rounding == "up" else round(n)
    groups = _groups(design)
    return whole * groups if conv.n_unit == "total" and groups > 1 else whole


def evaluate(design: Design, convs: list[Convention]) -> dict[Convention, float | None]:
    """The answer under each convention: a size (as a whole number) or a power.

    A size is solved once per (sides, effect, method); its n unit and rounding only change how the
    same solution is reported.
    """
    solved: dict[tuple[int, str, str], float | None] = {}
    out: dict[Convention, float | None] = {}
    for conv in convs:
        try:
            if design.target == "size":
                key = (conv.sides, conv.effect, conv.method)
                if key not in solved:
                    solved[key] = solve_n(design, conv)
                n = solved[key]
                out[conv] = None if n is None else float(reported_size(design, conv, n))
            else:
                out[conv] = None if design.n is None else power(design, conv, analysis_n(design, conv, design.n))
        except (ValueError, ZeroDivisionError, KeyError, IndexError):
            out[conv] = None
    return out
