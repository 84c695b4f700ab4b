"""One instruction sentence per N-PowerAI task type, stating the convention its labels follow."""

from __future__ import annotations

from collections import Counter

from task_store.audit.power_calc import EFFECTS, METHODS

Votes = dict[str, Counter[str]]
_DEFAULT_EFFECT = {
    "One-sample t-test": "d",
    "Paired t-test": "dz",
    "Two independent samples t-test": "d_rms",
    "One-way ANOVA": "f_k",
    "Chi-square test of independence": "w",
    "Cox proportional-hazards model": "events",
}
_DEFAULT_METHOD = {
    "One-way ANOVA": "F", "Chi-square test of independence": "chi2", "Cox proportional-hazards model": "freedman",
}
_SINGLE_GROUP = ("One-sample t-test", "Paired t-test", "Chi-square test of independence")


def _top(votes: Votes, dimension: str, default: str, among: tuple[str, ...] | None = None) -> str:
    counter = votes.get(dimension, Counter())
    ranked = [v for v, _ in counter.most_common() if among is None or v in among]
    return ranked[0] if ranked else default


def _sides(task_type: str, votes: Votes) -> str:
    if task_type == "One-way ANOVA":
        return "Use the one-way ANOVA F test (one-tailed by construction)"
    if task_type == "Chi-square test of independence":
        return "Use the chi-square test of independence (one-tailed by construction)"
    follows = _top(votes, "sides", "as stated", ("as stated", "against the statement")) == "as stated"
    default = _top(votes, "sides", "two-sided (unstated)", ("two-sided (unstated)", "one-sided (unstated)"))
    stated = "Use the sidedness the question states" if follows else "Do not rely on the stated sidedness"
    return f"{stated} ({default.split(' ')[0]} when it states none)"


_UNITS = {
    "One-sample t-test": "n is the number of participants",
    "Paired t-test": "n is the number of pairs",
    "Chi-square test of independence": "n is the total number of participants",
}


def sentence(task_type: str, votes: Votes) -> str:
    """E.g. "Use the sidedness the question states (two-sided when it states none), at the stated
    significance level (0.05 when none is given); effect size d = ...; noncentral t; n is the number
    of participants; round sample sizes up to a whole number."."""
    effect = EFFECTS[_top(votes, "effect", _DEFAULT_EFFECT.get(task_type, "d"))]
    method = METHODS[_top(votes, "method", _DEFAULT_METHOD.get(task_type, "t"))]
    unit = _UNITS.get(task_type)
    if unit is None:
        per_group = _top(votes, "n", "per group") == "per group"
        unit = "n is per group (equal groups)" if per_group else "n is the total over all groups"
    up = _top(votes, "rounding", "up") == "up"
    rounding = "round sample sizes up to a whole number" if up else "round sample sizes to the nearest whole number"
    return (
        f"{_sides(task_type, votes)}, at the stated significance level (0.05 when none is given); "
        f"effect size {effect}; {method}; {unit}; {rounding}."
    )
