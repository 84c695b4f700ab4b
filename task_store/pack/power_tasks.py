"""The `medgym_power` pack: N-PowerAI-shaped sample-size and power questions.

Ground truth comes from `statsmodels.stats.power`; sample sizes are rounded up and must match
exactly (`IntegerKey`), powers are accepted within 1% relative (`RelativeKey`). Designs are drawn
so that powers lie between 0.2 and 0.97 and sample sizes are not within 0.02 of a whole number,
so neither a constant answer nor a rounding convention decides the score.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Callable

from scoring.keys import IntegerKey, RelativeKey
from task_store.models import AnswerFormat, IndexedTask, Task
from task_store.pack.build import hash_split
from task_store.pack.power_groups import anova, chi_square
from task_store.pack.power_math import PowerParams, PowerTest, Target, solve
from task_store.pack.power_solutions import power_solution
from task_store.pack.power_ttests import one_sample, paired, two_sample

DATASET = "medgym_power"
INSTANCES_PER_DESIGN = 14
Narrative = Callable[[random.Random, Target], tuple[PowerParams, str]]
DESIGNS: dict[PowerTest, tuple[str, Narrative]] = {
    "One-sample t-test": ("one-sample", one_sample),
    "Paired t-test": ("paired", paired),
    "Two independent samples t-test": ("two-sample", two_sample),
    "One-way ANOVA": ("anova", anova),
    "Chi-square test of independence": ("chi-square", chi_square),
}
INSTRUCTIONS = (
    "Statistical power analysis; statsmodels and scipy are available in the sandbox. Conventions: "
    "one-sample t-test d = |expected mean - reference| / SD; paired t-test d = |mean change| / SD of "
    "the changes; two independent samples d = |mean1 - mean2| / √((SD1² + SD2²) / 2) with equal group "
    "sizes; one-way ANOVA Cohen's f = √(Σ(μi - μ̄)² / k) / common SD with equal group sizes; chi-square "
    "test of independence Cohen's w = √(Σ (p_obs - p_exp)² / p_exp) over the cells of the joint "
    "distribution of equal-sized groups, with the df stated. A one-sided test is in the direction of the "
    "expected effect. Sample sizes are rounded up to whole participants."
)
_HOW: dict[Target, str] = {
    "size": "submit the required sample size as one integer (e.g. 120)",
    "power": "submit the power as a number between 0 and 1 (e.g. 0.85); within 1% relative counts",
}


def build_power_tasks(seed: int, per_design: int = INSTANCES_PER_DESIGN) -> list[IndexedTask]:
    """Sample-size and power tasks for every design; the same seed always gives the same tasks."""
    return [
        task
        for test in DESIGNS
        for target in ("size", "power")
        for task in design_tasks(test, target, seed, per_design)
    ]


def design_tasks(test: PowerTest, target: Target, seed: int, count: int) -> list[IndexedTask]:
    """`count` distinct tasks of one design and target."""
    slug, narrative = DESIGNS[test]
    rng = random.Random(f"{DATASET}:{seed}:{slug}:{target}")
    tasks: list[IndexedTask] = []
    seen: set[str] = set()
    for _ in range(count * 200):
        if len(tasks) == count:
            return tasks
        params, question = narrative(rng, target)
        answer = usable_answer(target, solve(test, target, params))
        tid = f"{slug}-{target}-{_digest(params)}"
        if answer is None or tid in seen:
            continue
        seen.add(tid)
        tasks.append(_indexed(test, target, params, question, answer, tid, len(tasks)))
    raise RuntimeError(f"{test} ({target}): only {len(tasks)} of {count} usable designs")


def usable_answer(target: Target, raw: float) -> float | None:
    """The answer to key, or None when the draw is degenerate (power near 0 or 1, n on an integer)."""
    if not math.isfinite(raw):
        return None
    if target == "power":
        return raw if 0.2 <= raw <= 0.97 else None
    fraction = raw - math.floor(raw)
    if not 4 <= raw <= 3000 or fraction < 0.02 or fraction > 0.98:
        return None
    return float(math.ceil(raw))


def _digest(params: PowerParams) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]


def _indexed(
    test: PowerTest, target: Target, params: PowerParams, question: str, answer: float, tid: str, row: int
) -> IndexedTask:
    split = hash_split(tid)
    key = IntegerKey(value=int(answer)) if target == "size" else RelativeKey(value=answer, rel_tol=0.01)
    task = Task(
        task_id=f"{DATASET}/{split}/{tid}",
        dataset=DATASET,
        split=split,
        category=test,
        title=f"{test} ({target}): {question.split('. ', 1)[0][:90]}",
        question=question,
        instructions=f"{INSTRUCTIONS}\n\nAnswer format: {_HOW[target]}.",
        answer_format=AnswerFormat(
            kind="integer" if target == "size" else "number", how_to_submit=_HOW[target]
        ),
    )
    return IndexedTask(
        task=task,
        key=key,
        reference_solution=power_solution(test, target, params),
        source=f"pack:{DATASET}/{tid.rsplit('-', 1)[0]}/{row}",
    )
