"""Effect sizes and statsmodels power calculations for the `medgym_power` pack.

Conventions (stated to the agent in every task's instructions):
- one-sample t-test: d = |expected mean - reference mean| / SD;
- paired t-test: d = |mean of the within-pair differences| / SD of the differences;
- two independent samples: d = |mean1 - mean2| / pooled SD, pooled SD = √((SD1² + SD2²) / 2);
- one-way ANOVA: Cohen's f = √(Σ(μi - μ̄)² / k) / common SD, n per group (equal groups);
- chi-square test of independence: Cohen's w over the joint cell probabilities of equal-sized
  groups, df = (rows - 1)(columns - 1), n total.
Sample sizes are rounded up to whole participants (per group or total, as the question says).
"""

from __future__ import annotations

import math
from typing import Literal

PowerTest = Literal[
    "One-sample t-test",
    "Paired t-test",
    "Two independent samples t-test",
    "One-way ANOVA",
    "Chi-square test of independence",
]
Target = Literal["size", "power"]
PowerValue = float | int | str | list[float] | list[list[float]]
PowerParams = dict[str, PowerValue]


def _num(params: PowerParams, name: str) -> float:
    value = params[name]
    if not isinstance(value, int | float):
        raise TypeError(f"{name} is not a number: {value!r}")
    return float(value)


def _vector(params: PowerParams, name: str) -> list[float]:
    value = params[name]
    if not isinstance(value, list):
        raise TypeError(f"{name} is not a list: {value!r}")
    return [float(x) for x in value if isinstance(x, int | float)]


def _table(params: PowerParams) -> list[list[float]]:
    value = params["table"]
    if not isinstance(value, list):
        raise TypeError("table is not a list")
    return [[float(x) for x in row] for row in value if isinstance(row, list)]


def cohens_w(table: list[list[float]]) -> float:
    """Cohen's w for rows = equal-sized groups, each row the category proportions of that group."""
    rows, cols = len(table), len(table[0])
    joint = [[p / rows for p in row] for row in table]
    col_sums = [sum(joint[r][c] for r in range(rows)) for c in range(cols)]
    return math.sqrt(
        sum(
            (joint[r][c] - col_sums[c] / rows) ** 2 / (col_sums[c] / rows)
            for r in range(rows)
            for c in range(cols)
        )
    )


def effect_size(test: PowerTest, params: PowerParams) -> float:
    """Cohen's d, f or w for the design in `params`."""
    if test == "One-sample t-test":
        return abs(_num(params, "mean") - _num(params, "reference")) / _num(params, "sd")
    if test == "Paired t-test":
        return abs(_num(params, "mean_diff")) / _num(params, "sd_diff")
    if test == "Two independent samples t-test":
        pooled = math.sqrt((_num(params, "sd1") ** 2 + _num(params, "sd2") ** 2) / 2)
        return abs(_num(params, "mean1") - _num(params, "mean2")) / pooled
    if test == "One-way ANOVA":
        means = _vector(params, "means")
        grand = sum(means) / len(means)
        return math.sqrt(sum((m - grand) ** 2 for m in means) / len(means)) / _num(params, "sd")
    return cohens_w(_table(params))


def _alternative(params: PowerParams) -> str:
    return "two-sided" if params.get("sides", 2) == 2 else "larger"


def solve(test: PowerTest, target: Target, params: PowerParams) -> float:
    """The required sample size (unrounded, in the question's unit) or the power of the design.

    NaN when the design has no effect to detect (effect size 0, e.g. two groups drawn with the
    same proportions): no sample size reaches the goal, and statsmodels raises rather than say so.
    """
    from statsmodels.stats.power import FTestAnovaPower, GofChisquarePower, TTestIndPower, TTestPower

    es, alpha = effect_size(test, params), _num(params, "alpha")
    if not es > 0:
        return math.nan
    goal = _num(params, "power") if target == "size" else None
    n = None if target == "size" else _num(params, "n")
    if test in ("One-sample t-test", "Paired t-test"):
        engine = TTestPower()
        if n is None:
            return float(
                engine.solve_power(effect_size=es, alpha=alpha, power=goal, alternative=_alternative(params))
            )
        return float(engine.power(es, n, alpha, alternative=_alternative(params)))
    if test == "Two independent samples t-test":
        ind = TTestIndPower()
        if n is None:
            return float(
                ind.solve_power(
                    effect_size=es, alpha=alpha, power=goal, ratio=1.0, alternative=_alternative(params)
                )
            )
        return float(ind.power(es, n, alpha, ratio=1.0, alternative=_alternative(params)))
    if test == "One-way ANOVA":
        k = len(_vector(params, "means"))
        if n is None:
            return (
                float(FTestAnovaPower().solve_power(effect_size=es, alpha=alpha, power=goal, k_groups=k)) / k
            )
        return float(FTestAnovaPower().power(es, n * k, alpha, k_groups=k))
    bins = int(_num(params, "df")) + 1
    if n is None:
        return float(GofChisquarePower().solve_power(effect_size=es, alpha=alpha, power=goal, n_bins=bins))
    return float(GofChisquarePower().power(es, n, alpha, n_bins=bins))
