"""Exact AUROC without scikit-learn: the Mann-Whitney U statistic over midranks (ties count half).

AUROC = (R+ - n+ (n+ + 1) / 2) / (n+ n-), where R+ is the sum of the (1-based, tie-averaged)
ranks of the positives' scores: the probability that a random positive outscores a random
negative, a tie counting one half. It equals scikit-learn's `roc_auc_score` (trapezoidal ROC).
"""

from __future__ import annotations

from collections.abc import Sequence


def midranks(scores: Sequence[float]) -> list[float]:
    """1-based ranks of `scores`, tied values sharing the mean of their ranks."""
    order = sorted(range(len(scores)), key=scores.__getitem__)
    ranks = [0.0] * len(scores)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def auroc(scores: Sequence[float], positive: Sequence[bool]) -> float | None:
    """The AUROC of `scores` for the `positive` rows; None when either class is absent."""
    n_pos = sum(1 for p in positive if p)
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    rank_sum = sum(rank for rank, p in zip(midranks(scores), positive, strict=True) if p)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def f1(decided: Sequence[bool], positive: Sequence[bool]) -> float | None:
    """F1 of hard decisions for one output; None when there are no positives, decided or true."""
    tp = sum(1 for d, p in zip(decided, positive, strict=True) if d and p)
    predicted, actual = sum(decided), sum(positive)
    if predicted + actual == 0:
        return None
    return 2 * tp / (predicted + actual)


def mean(values: Sequence[float | None]) -> float | None:
    """The mean of the defined values (None when none is)."""
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None
